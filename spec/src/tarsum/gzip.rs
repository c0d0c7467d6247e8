//! Overlapping gzip decompression with hashing.
//!
//! A single thread would spend the sum of inflate time and hash time; with
//! one thread inflating into a small ring of buffers and the caller's thread
//! hashing out of it, a sum costs about as much as decompression alone. This
//! is a CLI/library path: the registry server never computes tarsums, so the
//! thread here is never on a simulated path.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Size of each decompressed buffer handed across threads.
const CHUNK: usize = 1024 * 1024;
/// Buffers in flight between the threads.
const DEPTH: usize = 4;

/// Runs `consume` over the decompressed stream of `reader`.
pub(super) fn with_pipelined_decoder<R, T, E>(
    reader: R,
    consume: impl FnOnce(&mut dyn Read) -> Result<T, E>,
) -> Result<T, E>
where
    R: Read + Send,
    E: From<io::Error>,
{
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(DEPTH + 1);
        scope.spawn(move || inflate(reader, full_tx, empty_rx));
        let mut plain = ChannelReader { full: full_rx, empty: empty_tx, current: Vec::new(), pos: 0 };
        let result = consume(&mut plain);
        // Dropping the reader closes both channels, which stops the inflater
        // if the consumer returned early.
        drop(plain);
        result
    })
}

fn inflate<R: Read>(reader: R, full: SyncSender<io::Result<Vec<u8>>>, empty: Receiver<Vec<u8>>) {
    let mut decoder = flate2::read::MultiGzDecoder::new(reader);
    loop {
        let mut buf = empty.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        buf.resize(CHUNK, 0);
        let mut filled = 0;
        let outcome = loop {
            match decoder.read(&mut buf[filled..]) {
                Ok(0) => break Ok(true),
                Ok(n) => {
                    filled += n;
                    if filled == CHUNK {
                        break Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        buf.truncate(filled);
        match outcome {
            Ok(eof) => {
                if !buf.is_empty() && full.send(Ok(buf)).is_err() {
                    return;
                }
                if eof {
                    return;
                }
            }
            Err(e) => {
                let _ = full.send(Err(e));
                return;
            }
        }
    }
}

struct ChannelReader {
    full: Receiver<io::Result<Vec<u8>>>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.full.recv() {
                Ok(Ok(next)) => {
                    let done = std::mem::replace(&mut self.current, next);
                    self.pos = 0;
                    let _ = self.empty.try_send(done);
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0), // inflater finished
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
