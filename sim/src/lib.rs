//! Deterministic simulation of registries, clients, webhook receivers and
//! storage under injected faults (`drydock sim`). A run is a
//! `(scenario, seed)` pair; the same pair always gives the same trace.
