//! `$filter`: a recursive-descent parser over the lexer's tokens.
//!
//! Precedence, loosest first: `or`, `and`, `not`, then a comparison or `in`, then primaries
//! (literals, paths, lambdas, calls, parentheses). `not` binds looser than a comparison, so
//! `not status eq 'active'` reads as people mean it.

use crate::ast::{CompareOp, Expr, Lambda, Literal, Path};
use crate::lexer::{tokenize, Spanned, Token};
use crate::{check_length, ParseError, MAX_DEPTH};

const OPTION: &str = "$filter";

/// Parses a `$filter` expression.
pub fn parse_filter(text: &str) -> Result<Expr, ParseError> {
    check_length(OPTION, text)?;
    let tokens = tokenize(OPTION, text)?;
    let mut parser = Parser { tokens, pos: 0, depth: 0, end: text.len() };
    if parser.tokens.is_empty() {
        return Err(parser.error_at(0, "the filter is empty"));
    }
    let expr = parser.or()?;
    if let Some(extra) = parser.tokens.get(parser.pos) {
        let message = match extra.token {
            Token::RParen => "this ')' has no matching '('".to_owned(),
            _ => format!("expected 'and', 'or' or the end of the filter, found {}", extra.token.describe()),
        };
        return Err(parser.error_at(extra.at, message));
    }
    Ok(expr)
}

pub(crate) struct Parser {
    pub(crate) tokens: Vec<Spanned>,
    pub(crate) pos: usize,
    depth: usize,
    /// Where the input ends, for errors about missing tokens.
    end: usize,
}

fn compare_op(name: &str) -> Option<CompareOp> {
    Some(match name {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "gt" => CompareOp::Gt,
        "ge" => CompareOp::Ge,
        "lt" => CompareOp::Lt,
        "le" => CompareOp::Le,
        _ => return None,
    })
}

/// Words that cannot start a property path.
const RESERVED: &[&str] = &["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "has"];

impl Parser {
    fn error_at(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError { option: OPTION, position: at, message: message.into() }
    }

    fn here(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.at)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.token)
    }

    fn peek_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(name)) if name == word)
    }

    fn expect(&mut self, wanted: &Token, what: &str) -> Result<(), ParseError> {
        match self.peek() {
            Some(token) if token == wanted => {
                self.pos += 1;
                Ok(())
            }
            Some(other) => Err(self.error_at(self.here(), format!("expected {what}, found {}", other.describe()))),
            None => Err(self.error_at(self.end, format!("expected {what}, found the end of the filter"))),
        }
    }

    /// Runs `inner` one level deeper, refusing input nested past [`MAX_DEPTH`].
    fn nested<T>(&mut self, inner: impl FnOnce(&mut Self) -> Result<T, ParseError>) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(self.here(), format!("the filter is nested more than {MAX_DEPTH} levels deep")));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.peek_keyword("not") {
            self.pos += 1;
            return self.nested(|p| Ok(Expr::Not(Box::new(p.not()?))));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.primary()?;
        let Some(Token::Ident(word)) = self.peek() else { return Ok(left) };
        if let Some(op) = compare_op(word) {
            self.pos += 1;
            let right = self.primary()?;
            return Ok(Expr::Compare { op, left: Box::new(left), right: Box::new(right) });
        }
        if word == "in" {
            self.pos += 1;
            let list = self.in_list()?;
            return Ok(Expr::In { value: Box::new(left), list });
        }
        if word == "has" {
            return Err(self.error_at(self.here(), "the 'has' operator is not supported"));
        }
        if matches!(word.as_str(), "add" | "sub" | "mul" | "div" | "divby" | "mod") {
            return Err(self.error_at(self.here(), format!("the arithmetic operator '{word}' is not supported")));
        }
        Ok(left)
    }

    /// `( item, item, ... )` after `in`.
    fn in_list(&mut self) -> Result<Vec<Expr>, ParseError> {
        let open = self.here();
        self.expect(&Token::LParen, "'(' to start the list after 'in'")?;
        let mut items = Vec::new();
        loop {
            if self.peek().is_none() {
                return Err(self.error_at(open, "the list starting here has no closing ')'"));
            }
            items.push(self.primary()?);
            match self.peek() {
                Some(Token::Comma) => self.pos += 1,
                Some(Token::RParen) => {
                    self.pos += 1;
                    return Ok(items);
                }
                None => return Err(self.error_at(open, "the list starting here has no closing ')'")),
                Some(other) => {
                    let message = format!("expected ',' or ')' in the list, found {}", other.describe());
                    return Err(self.error_at(self.here(), message));
                }
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let at = self.here();
        let Some(token) = self.peek().cloned() else {
            return Err(self.error_at(self.end, "the filter ends where a value or property was expected"));
        };
        self.pos += 1;
        let literal = match token {
            Token::LParen => {
                let inner = self.nested(|p| p.or())?;
                return match self.peek() {
                    Some(Token::RParen) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    Some(Token::Comma) => Err(self.error_at(self.here(), "a list in parentheses needs 'in' before it")),
                    _ => Err(self.error_at(at, "this '(' has no matching ')'")),
                };
            }
            Token::Str(text) => Literal::String(text),
            Token::Int(n) => Literal::Int(n),
            Token::Decimal(n) => Literal::Decimal(n),
            Token::DateTime(t) => Literal::DateTimeOffset(t),
            Token::Date(d) => Literal::Date(d),
            Token::Guid(g) => Literal::Guid(g),
            Token::Typed { prefix, body } => typed_literal(&prefix, body).map_err(|m| self.error_at(at, m))?,
            Token::Ident(name) => match name.as_str() {
                "null" => Literal::Null,
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                _ if RESERVED.contains(&name.as_str()) => {
                    return Err(self.error_at(at, format!("expected a value or property, found '{name}'")));
                }
                _ if self.peek() == Some(&Token::LParen) => return self.call(name),
                _ => return self.path(name, at),
            },
            other => return Err(self.error_at(at, format!("expected a value or property, found {}", other.describe()))),
        };
        Ok(Expr::Literal(literal))
    }

    /// `name(arg, ...)`, the name already read.
    fn call(&mut self, function: String) -> Result<Expr, ParseError> {
        let open = self.here();
        self.pos += 1;
        let mut args = Vec::new();
        if self.peek() == Some(&Token::RParen) {
            self.pos += 1;
            return Ok(Expr::Call { function, args });
        }
        self.nested(|p| loop {
            args.push(p.or()?);
            match p.peek() {
                Some(Token::Comma) => p.pos += 1,
                Some(Token::RParen) => {
                    p.pos += 1;
                    return Ok(());
                }
                _ => return Err(p.error_at(open, format!("the arguments of '{function}' have no closing ')'"))),
            }
        })?;
        Ok(Expr::Call { function, args })
    }

    /// A property path from its first segment: `a/b`, `a/$count`, `a/any(x: ...)`, `a/all(x: ...)`.
    fn path(&mut self, first: String, at: usize) -> Result<Expr, ParseError> {
        let mut segments = vec![first];
        while self.peek() == Some(&Token::Slash) {
            self.pos += 1;
            let seg_at = self.here();
            match self.peek().cloned() {
                Some(Token::Ident(name)) if name == "$count" => {
                    self.pos += 1;
                    return Ok(Expr::Path(Path { segments, count: true }));
                }
                Some(Token::Ident(name)) if (name == "any" || name == "all") && self.lookahead_is_paren() => {
                    self.pos += 2;
                    return self.lambda(Path { segments, count: false }, name == "any", seg_at);
                }
                Some(Token::Ident(name)) if !name.starts_with('$') => {
                    self.pos += 1;
                    segments.push(name);
                }
                _ => return Err(self.error_at(seg_at, "expected a property name after '/'")),
            }
        }
        if segments[0].starts_with('$') {
            return Err(self.error_at(at, format!("'{}' is not supported here", segments[0])));
        }
        Ok(Expr::Path(Path { segments, count: false }))
    }

    fn lookahead_is_paren(&self) -> bool {
        matches!(self.tokens.get(self.pos + 1), Some(Spanned { token: Token::LParen, .. }))
    }

    /// The inside of `any(...)` / `all(...)`, after the `(`.
    fn lambda(&mut self, collection: Path, any: bool, at: usize) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Token::RParen) {
            self.pos += 1;
            if any {
                return Ok(Expr::Any { collection, lambda: None });
            }
            return Err(self.error_at(at, "all() needs a condition, e.g. all(t: t eq 'x')"));
        }
        let variable = match self.peek().cloned() {
            Some(Token::Ident(name)) if !RESERVED.contains(&name.as_str()) && !name.starts_with('$') => name,
            _ => return Err(self.error_at(self.here(), "expected a variable name, as in any(t: t eq 'x')")),
        };
        self.pos += 1;
        self.expect(&Token::Colon, "':' after the lambda variable")?;
        let body = self.nested(|p| p.or())?;
        if self.peek() != Some(&Token::RParen) {
            return Err(self.error_at(at, "this lambda has no closing ')'"));
        }
        self.pos += 1;
        let lambda = Lambda { variable, body: Box::new(body) };
        Ok(if any { Expr::Any { collection, lambda: Some(lambda) } } else { Expr::All { collection, lambda } })
    }
}

/// A `prefix'body'` literal: the typed forms OData defines, or an enum member.
fn typed_literal(prefix: &str, body: String) -> Result<Literal, String> {
    match prefix {
        "duration" => Ok(Literal::Duration(body)),
        "guid" => Ok(Literal::Guid(body.to_ascii_lowercase())),
        "datetime" | "datetimeoffset" => chrono::DateTime::parse_from_rfc3339(&body)
            .map(Literal::DateTimeOffset)
            .map_err(|_| format!("'{body}' is not a valid DateTimeOffset")),
        "binary" | "X" => Err("binary literals are not supported".into()),
        _ if prefix.contains('.') => Ok(Literal::Enum { type_name: prefix.to_owned(), member: body }),
        _ => Err(format!("'{prefix}' is not a known literal type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(name: &str) -> Box<Expr> {
        Box::new(Expr::Path(Path { segments: vec![name.into()], count: false }))
    }

    fn string(text: &str) -> Box<Expr> {
        Box::new(Expr::Literal(Literal::String(text.into())))
    }

    #[test]
    fn comparisons_and_logic_follow_precedence() {
        let parsed = parse_filter("status eq 'active' or severity eq 'high' and not assignedTo eq null").unwrap();
        let Expr::Or(left, right) = parsed else { panic!("{parsed:?}") };
        assert_eq!(*left, Expr::Compare { op: CompareOp::Eq, left: path("status"), right: string("active") });
        let Expr::And(_, not) = *right else { panic!() };
        assert!(matches!(*not, Expr::Not(_)));
    }

    #[test]
    fn parentheses_group() {
        let parsed = parse_filter("(status eq 'a' or status eq 'b') and severity ne 'low'").unwrap();
        assert!(matches!(parsed, Expr::And(ref l, _) if matches!(**l, Expr::Or(_, _))));
    }

    #[test]
    fn in_lists_and_lambdas() {
        let parsed = parse_filter("status in ('active', 'inProgress')").unwrap();
        assert!(matches!(parsed, Expr::In { ref list, .. } if list.len() == 2));
        let parsed = parse_filter("customTags/any(t: t eq 'x' or t eq 'y')").unwrap();
        let Expr::Any { collection, lambda: Some(lambda) } = parsed else { panic!() };
        assert_eq!(collection.segments, vec!["customTags".to_owned()]);
        assert_eq!(lambda.variable, "t");
        assert!(matches!(parse_filter("customTags/any()").unwrap(), Expr::Any { lambda: None, .. }));
        assert!(matches!(parse_filter("customTags/all(t: t ne 'x')").unwrap(), Expr::All { .. }));
        assert!(matches!(parse_filter("customTags/$count gt 1").unwrap(), Expr::Compare { .. }));
    }

    #[test]
    fn calls_and_typed_literals() {
        let parsed = parse_filter("contains(displayName, 'ransom')").unwrap();
        assert!(matches!(parsed, Expr::Call { ref function, ref args } if function == "contains" && args.len() == 2));
        let parsed = parse_filter("severity eq microsoft.graph.security.alertSeverity'high'").unwrap();
        let Expr::Compare { right, .. } = parsed else { panic!() };
        assert!(matches!(*right, Expr::Literal(Literal::Enum { ref member, .. }) if member == "high"));
        assert!(parse_filter("createdDateTime ge 2025-02-07T19:01:26Z").is_ok());
    }

    #[test]
    fn malformed_filters_name_the_problem() {
        let cases = [
            ("(status eq 'a'", "no matching ')'"),
            ("status eq 'a')", "no matching '('"),
            ("status eq", "ends where a value"),
            ("status eq 'a' 'b'", "expected 'and', 'or'"),
            ("status in 'a'", "'(' to start the list"),
            ("status in ('a'", "no closing ')'"),
            ("tags/any(t t eq 'x')", "':' after the lambda variable"),
            ("eq eq 1", "found 'eq'"),
            ("", "empty"),
            ("a has 'b'", "'has'"),
            ("a add 1 eq 2", "arithmetic"),
        ];
        for (filter, expected) in cases {
            let err = parse_filter(filter).unwrap_err();
            assert!(err.message.contains(expected), "{filter}: {}", err.message);
        }
    }

    #[test]
    fn depth_and_length_are_bounded() {
        let deep = format!("{}status eq 'a'{}", "(".repeat(1000), ")".repeat(1000));
        assert!(parse_filter(&deep).unwrap_err().message.contains("nested"));
        let nots = format!("{}status eq 'a'", "not ".repeat(1000));
        assert!(parse_filter(&nots).unwrap_err().message.contains("nested"));
        let long = format!("displayName eq '{}'", "x".repeat(100_000));
        assert!(parse_filter(&long).unwrap_err().message.contains("bytes long"));
        let ok = format!("{}status eq 'a'{}", "(".repeat(MAX_DEPTH - 1), ")".repeat(MAX_DEPTH - 1));
        assert!(parse_filter(&ok).is_ok());
    }
}
