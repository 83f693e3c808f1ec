//! Text netlab did not write, on its way to a person: see `safe`.

pub mod safe;

/// `eprintln!` for a line that carries text from outside (an engine's
/// error, a lab's name from its labels): the whole line made safe, since
/// netlab puts no colour in these.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::text::safe::for_terminal(&format!($($arg)*)))
    };
}
pub(crate) use say;
