//! What the registry takes from its surroundings instead of the OS: a wall
//! clock and a random source. `drydock serve` passes the system clock and an
//! OS-seeded generator; the simulator passes simulated time and a seed.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Wall-clock time, for timestamps that are stored or sent (upload start
/// times, event timestamps). Durations use tokio time instead.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

/// The registry's environment.
#[derive(Clone)]
pub struct Env {
    clock: Arc<dyn Clock>,
    rng: Arc<Mutex<ChaCha8Rng>>,
}

impl Env {
    pub fn new(clock: Arc<dyn Clock>, seed: [u8; 32]) -> Env {
        Env { clock, rng: Arc::new(Mutex::new(ChaCha8Rng::from_seed(seed))) }
    }

    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    pub fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.rng.lock().unwrap_or_else(|p| p.into_inner()).fill_bytes(&mut out);
        out
    }

    /// A random RFC 4122 version-4 UUID in its usual text form.
    pub fn new_uuid(&self) -> String {
        let mut b: [u8; 16] = self.random_bytes();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A clock that always reads the same instant.
    pub struct FixedClock(pub SystemTime);

    impl Clock for FixedClock {
        fn now(&self) -> SystemTime {
            self.0
        }
    }

    pub fn env() -> Env {
        Env::new(Arc::new(FixedClock(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))), [7; 32])
    }

    #[test]
    fn uuids_are_well_formed_and_seeded() {
        let a = env().new_uuid();
        assert_eq!(a, env().new_uuid(), "same seed, same id");
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, {
            let e = env();
            e.new_uuid();
            e.new_uuid()
        });
    }
}
