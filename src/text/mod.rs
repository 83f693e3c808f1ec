//! Text netlab did not write, on its way to a person: see `safe`.

pub mod safe;
