//! The syntax tree of a parsed query option.

use chrono::{DateTime, FixedOffset, NaiveDate};

/// A literal value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    String(String),
    DateTimeOffset(DateTime<FixedOffset>),
    Date(NaiveDate),
    Guid(String),
    /// An ISO 8601 duration as written inside `duration'...'`.
    Duration(String),
    /// A qualified enum literal: `microsoft.graph.security.alertSeverity'high'`.
    Enum {
        type_name: String,
        member: String,
    },
}

/// A property path such as `severity`, `customTags` or `t` (a lambda variable), optionally ending
/// in `/$count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<String>,
    /// The path ends in `/$count`.
    pub count: bool,
}

impl Path {
    /// The path as written, for messages.
    pub fn display(&self) -> String {
        let mut text = self.segments.join("/");
        if self.count {
            text.push_str("/$count");
        }
        text
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

/// `variable: body` inside `any(...)` or `all(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lambda {
    pub variable: String,
    pub body: Box<Expr>,
}

/// A `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Literal),
    Path(Path),
    Compare {
        op: CompareOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `collection/any()` (no lambda: the collection is not empty) or `collection/any(x: ...)`.
    Any {
        collection: Path,
        lambda: Option<Lambda>,
    },
    All {
        collection: Path,
        lambda: Lambda,
    },
    /// A function call such as `contains(displayName, 'x')`; the name as written.
    Call {
        function: String,
        args: Vec<Expr>,
    },
}

/// One `$orderby` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub path: Path,
    pub descending: bool,
}

/// One term of `$search`: a word or a double-quoted phrase; `negated` after `NOT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    pub text: String,
    pub negated: bool,
}
