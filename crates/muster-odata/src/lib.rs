//! OData v4 system query options, parsed into a syntax tree.
//!
//! The parser knows the grammar only: which properties exist, which literals fit them and which
//! functions a server supports is the caller's business (the server's translator). Every input is
//! bounded: an option longer than [`MAX_QUERY_LEN`] or nested deeper than [`MAX_DEPTH`] is refused
//! with a [`ParseError`] rather than parsed, so hostile input costs little and never overflows the
//! stack.

mod ast;
mod filter;
mod lexer;
mod options;

pub use ast::{CompareOp, Expr, Lambda, Literal, OrderBy, Path, SearchTerm};
pub use filter::parse_filter;
pub use options::{parse_expand, parse_orderby, parse_search, parse_select, parse_skip, parse_top};

/// The longest query option accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 8192;
/// The deepest nesting of parentheses, `not` and lambdas accepted.
pub const MAX_DEPTH: usize = 64;

/// Why a query option could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The option at fault, e.g. `$filter`.
    pub option: &'static str,
    /// Byte offset into the option's text.
    pub position: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Invalid {} at position {}: {}", self.option, self.position, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Refuses an option before any parsing when it is too long.
fn check_length(option: &'static str, text: &str) -> Result<(), ParseError> {
    if text.len() > MAX_QUERY_LEN {
        return Err(ParseError {
            option,
            position: MAX_QUERY_LEN,
            message: format!("the option is {} bytes long; at most {MAX_QUERY_LEN} are accepted", text.len()),
        });
    }
    Ok(())
}
