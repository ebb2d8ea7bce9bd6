//! The error type: a difflm status code plus the library's message.
use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_int;

use difflm_sys as sys;

/// What kind of failure a status code names (`DIFFLM_E_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidArg,
    NoMem,
    Io,
    Format,
    Unsupported,
    BufferTooSmall,
    State,
    Cancelled,
    TooLong,
    Internal,
    /// A code this binding does not know (a newer library).
    Other(i32),
}

impl ErrorKind {
    pub fn from_code(code: i32) -> ErrorKind {
        match code {
            sys::DIFFLM_E_INVALID_ARG => ErrorKind::InvalidArg,
            sys::DIFFLM_E_NOMEM => ErrorKind::NoMem,
            sys::DIFFLM_E_IO => ErrorKind::Io,
            sys::DIFFLM_E_FORMAT => ErrorKind::Format,
            sys::DIFFLM_E_UNSUPPORTED => ErrorKind::Unsupported,
            sys::DIFFLM_E_BUFFER_TOO_SMALL => ErrorKind::BufferTooSmall,
            sys::DIFFLM_E_STATE => ErrorKind::State,
            sys::DIFFLM_E_CANCELLED => ErrorKind::Cancelled,
            sys::DIFFLM_E_TOO_LONG => ErrorKind::TooLong,
            sys::DIFFLM_E_INTERNAL => ErrorKind::Internal,
            other => ErrorKind::Other(other),
        }
    }
}

/// A failed difflm call: the status code (negative) and the library's detail text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: i32,
    message: String,
}

impl Error {
    /// An error with `message`, or the status's description when `message` is empty.
    pub fn new(code: i32, message: impl Into<String>) -> Error {
        let mut message = message.into();
        if message.is_empty() {
            message = status_str(code);
        }
        Error { code, message }
    }

    /// The `DIFFLM_E_*` code.
    pub fn code(&self) -> i32 {
        self.code
    }

    pub fn kind(&self) -> ErrorKind {
        ErrorKind::from_code(self.code)
    }

    /// The library's message (what `difflm_last_error` or the log said).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", status_str(self.code), self.code, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// The library's description of a status code.
pub fn status_str(code: i32) -> String {
    // SAFETY: difflm_status_str returns a static NUL-terminated string for any value.
    unsafe { CStr::from_ptr(sys::difflm_status_str(code as c_int)) }.to_string_lossy().into_owned()
}
