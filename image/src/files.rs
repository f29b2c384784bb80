//! File helpers shared by the component builders: the plain `std::fs`
//! operations, with errors that name the path.

use std::fs;
use std::path::Path;

use crate::error::{BuildError, Result};

/// Reads a text file.
pub fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))
}

/// Writes a text file.
pub fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| BuildError::io(format!("writing {}", path.display()), e))
}

/// Copies a file.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| BuildError::io(format!("copying {} to {}", from.display(), to.display()), e))
}
