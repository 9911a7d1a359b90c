//! `$filter` syntax trees to typed store filters. Every property is checked against the
//! resource's table and every literal against the property's type, so what reaches the store is
//! well-formed; anything else is a 400 that names the problem.

use chrono::{DateTime, NaiveTime};
use muster_core::store::query::{Comparison, FacetValues, Filter, TextMatch, Value};
use muster_odata::{CompareOp, Expr, Lambda, Literal, Path};

use super::properties::{Element, EnumType, Kind, Property, Resource};
use crate::error::ApiError;

/// At most this many conditions in one filter: enough for any queue view, and far below what
/// either database refuses (SQLite nests `a OR b OR ...` one level per term, up to 1,000).
pub(crate) const MAX_CONDITIONS: usize = 200;
/// At most this many values in one `in (...)` list or lambda.
pub(crate) const MAX_LIST: usize = 1000;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::invalid_request(message).with_target("$filter")
}

/// Translates a parsed `$filter` for resource `F`.
pub(crate) fn translate<F: Resource>(expr: &Expr) -> Result<Filter<F>, ApiError> {
    Translator { conditions: 0 }.expr(expr)
}

struct Translator {
    conditions: usize,
}

fn op_of(op: CompareOp) -> Comparison {
    match op {
        CompareOp::Eq => Comparison::Eq,
        CompareOp::Ne => Comparison::Ne,
        CompareOp::Gt => Comparison::Gt,
        CompareOp::Ge => Comparison::Ge,
        CompareOp::Lt => Comparison::Lt,
        CompareOp::Le => Comparison::Le,
    }
}

/// `a op b` read as `b op' a`.
fn flipped(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        other => other,
    }
}

/// The operands of a chain of one operator (`a and b and c`), without recursing down the chain:
/// it can be as long as the filter.
fn chain(expr: &Expr, and: bool) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match (e, and) {
            (Expr::And(l, r), true) | (Expr::Or(l, r), false) => {
                stack.push(r);
                stack.push(l);
            }
            _ => out.push(e),
        }
    }
    out
}

fn describe(literal: &Literal) -> String {
    match literal {
        Literal::Null => "null".into(),
        Literal::Bool(b) => b.to_string(),
        Literal::Int(n) => n.to_string(),
        Literal::Decimal(n) => n.to_string(),
        Literal::String(s) => format!("'{s}'"),
        Literal::DateTimeOffset(t) => t.to_rfc3339(),
        Literal::Date(d) => d.to_string(),
        Literal::Guid(g) => g.clone(),
        Literal::Duration(d) => format!("duration'{d}'"),
        Literal::Enum { type_name, member } => format!("{type_name}'{member}'"),
    }
}

/// An enum member from a quoted string or a qualified enum literal of the right type.
fn member(property: &str, ty: &EnumType, literal: &Literal) -> Result<(&'static str, i64), ApiError> {
    let text = match literal {
        Literal::String(s) => s.as_str(),
        Literal::Enum { type_name, member } => {
            if type_name.rsplit('.').next() != Some(ty.name) {
                return Err(bad(format!("'{property}' is of type {}, not {type_name}.", ty.name)));
            }
            member.as_str()
        }
        other => {
            return Err(bad(format!(
                "'{property}' is of type {}; compare it with a quoted member such as '{}', not {}.",
                ty.name,
                (ty.members)().first().map_or("", |m| m.0),
                describe(other)
            )))
        }
    };
    (ty.parse)(text).ok_or_else(|| {
        let valid: Vec<&str> = (ty.members)().into_iter().map(|m| m.0).collect();
        bad(format!("'{text}' is not a member of {} (for '{property}'); valid members: {}.", ty.name, valid.join(", ")))
    })
}

fn open_member(property: &str, canonical: fn(&str) -> Option<String>, literal: &Literal) -> Result<String, ApiError> {
    let text = match literal {
        Literal::String(s) => s.as_str(),
        Literal::Enum { member, .. } => member.as_str(),
        other => return Err(bad(format!("'{property}' takes a quoted source name, not {}.", describe(other)))),
    };
    canonical(text).ok_or_else(|| bad(format!("'{text}' is not a valid value for '{property}'.")))
}

fn time(property: &str, literal: &Literal) -> Result<i64, ApiError> {
    let parsed = match literal {
        Literal::DateTimeOffset(t) => Some(t.timestamp_micros()),
        Literal::Date(d) => Some(d.and_time(NaiveTime::MIN).and_utc().timestamp_micros()),
        Literal::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_micros()),
        _ => None,
    };
    parsed.ok_or_else(|| {
        bad(format!(
            "'{property}' is a DateTimeOffset; compare it with a time such as 2025-02-07T19:01:26Z, not {}.",
            describe(literal)
        ))
    })
}

/// A literal as the stored value of a scalar of `kind` (enums: see [`member`]).
fn scalar_value(property: &str, kind: Kind, literal: &Literal) -> Result<Value, ApiError> {
    let wrong = |expected: &str| bad(format!("'{property}' is {expected}, so {} does not fit.", describe(literal)));
    Ok(match (kind, literal) {
        (Kind::Text, Literal::String(s)) => Value::Text(s.clone()),
        (Kind::Text, _) => return Err(wrong("a string")),
        (Kind::Lowered, Literal::String(s)) => Value::Text(s.trim().to_lowercase()),
        (Kind::Lowered, _) => return Err(wrong("a string")),
        (Kind::Int, Literal::Int(n)) => Value::Int(*n),
        (Kind::Int, _) => return Err(wrong("a whole number")),
        (Kind::NumericId, Literal::Int(n)) => Value::Int(*n),
        (Kind::NumericId, Literal::String(s)) => Value::Int(
            s.trim().parse().map_err(|_| bad(format!("'{s}' is not a valid '{property}': ids are numbers.")))?,
        ),
        (Kind::NumericId, _) => return Err(wrong("an id such as '42'")),
        (Kind::DateTime, _) => Value::Int(time(property, literal)?),
        (Kind::Enum(ty), _) => Value::Text(member(property, &ty, literal)?.0.to_owned()),
        (Kind::RankedEnum(ty), _) => Value::Int(member(property, &ty, literal)?.1),
        (Kind::Open(canonical), _) => Value::Text(open_member(property, canonical, literal)?),
    })
}

fn element_value(property: &str, element: Element, literal: &Literal) -> Result<String, ApiError> {
    match (element, literal) {
        (Element::Text, Literal::String(s)) => Ok(s.clone()),
        (Element::Text, other) => Err(bad(format!("'{property}' holds strings, so {} does not fit.", describe(other)))),
        (Element::Enum(ty), _) => Ok(member(property, &ty, literal)?.0.to_owned()),
        (Element::Open(canonical), _) => open_member(property, canonical, literal),
    }
}

fn unsupported_function(function: &str) -> ApiError {
    bad(format!("The function '{function}' is not supported; use contains, startswith or endswith."))
}

fn rank_holds(op: Comparison, rank: i64, wanted: i64) -> bool {
    match op {
        Comparison::Eq => rank == wanted,
        Comparison::Ne => rank != wanted,
        Comparison::Gt => rank > wanted,
        Comparison::Ge => rank >= wanted,
        Comparison::Lt => rank < wanted,
        Comparison::Le => rank <= wanted,
    }
}

impl Translator {
    fn count(&mut self) -> Result<(), ApiError> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(bad(format!("The filter has more than {MAX_CONDITIONS} conditions.")));
        }
        Ok(())
    }

    fn expr<F: Resource>(&mut self, expr: &Expr) -> Result<Filter<F>, ApiError> {
        match expr {
            Expr::And(_, _) => {
                Ok(Filter::And(chain(expr, true).into_iter().map(|e| self.expr(e)).collect::<Result<_, _>>()?))
            }
            Expr::Or(_, _) => {
                Ok(Filter::Or(chain(expr, false).into_iter().map(|e| self.expr(e)).collect::<Result<_, _>>()?))
            }
            Expr::Not(inner) => Ok(Filter::Not(Box::new(self.expr(inner)?))),
            Expr::Literal(Literal::Bool(true)) => Ok(Filter::True),
            Expr::Literal(Literal::Bool(false)) => Ok(Filter::Or(Vec::new())),
            Expr::Compare { op, left, right } => {
                self.count()?;
                self.compare(*op, left, right)
            }
            Expr::In { value, list } => {
                self.count()?;
                self.in_list(value, list)
            }
            Expr::Call { function, args } => {
                self.count()?;
                self.call(function, args)
            }
            Expr::Any { collection, lambda } => {
                self.count()?;
                self.lambda(collection, lambda.as_ref(), true)
            }
            Expr::All { collection, lambda } => {
                self.count()?;
                self.lambda(collection, Some(lambda), false)
            }
            Expr::Path(path) => {
                Err(bad(format!("'{}' alone is not a condition; compare it with a value.", path.display())))
            }
            Expr::Literal(literal) => Err(bad(format!("{} alone is not a condition.", describe(literal)))),
        }
    }

    fn property<F: Resource>(path: &Path) -> Result<(&str, Property<F>), ApiError> {
        let name = path.segments[0].as_str();
        if path.segments.len() > 1 {
            return Err(bad(format!(
                "'{}' is not a property of an {}; paths into properties are not supported.",
                path.display(),
                F::NAME
            )));
        }
        let property = F::property(name).ok_or_else(|| {
            bad(format!("Could not find a property named '{name}' on type {} to filter on.", F::NAME))
        })?;
        Ok((name, property))
    }

    fn compare<F: Resource>(&mut self, op: CompareOp, left: &Expr, right: &Expr) -> Result<Filter<F>, ApiError> {
        let (path, literal, op) = match (left, right) {
            (Expr::Path(p), Expr::Literal(l)) => (p, l, op),
            (Expr::Literal(l), Expr::Path(p)) => (p, l, flipped(op)),
            // `contains(displayName, 'x') eq true`
            (Expr::Call { function, args }, Expr::Literal(Literal::Bool(b)))
                if matches!(op, CompareOp::Eq | CompareOp::Ne) =>
            {
                let call = self.call(function, args)?;
                return Ok(if *b == (op == CompareOp::Eq) { call } else { Filter::Not(Box::new(call)) });
            }
            (Expr::Call { function, .. }, _) | (_, Expr::Call { function, .. }) => {
                return Err(match function.as_str() {
                    "contains" | "startswith" | "endswith" => {
                        bad(format!("{function}() is a condition of its own; compare it only with true or false."))
                    }
                    _ => unsupported_function(function),
                })
            }
            (Expr::Path(a), Expr::Path(b)) => {
                return Err(bad(format!(
                    "Comparing two properties ('{}' and '{}') is not supported.",
                    a.display(),
                    b.display()
                )))
            }
            _ => return Err(bad(format!("'{}' needs a property on one side and a value on the other.", op.as_str()))),
        };
        let op = op_of(op);
        let (name, property) = Self::property::<F>(path)?;
        let (field, kind) = match property {
            Property::Scalar { field, kind } if !path.count => (field, kind),
            Property::Scalar { .. } => return Err(bad(format!("'{name}' is not a collection, so it has no $count."))),
            Property::Collection { count: Some(field), .. } if path.count => (field, Kind::Int),
            Property::Collection { .. } if path.count => {
                return Err(bad(format!("Filtering on the number of '{name}' is not supported.")))
            }
            Property::Collection { .. } => {
                return Err(bad(format!("'{name}' is a collection: filter it with {name}/any(t: t eq 'value').")))
            }
        };
        if *literal == Literal::Null {
            let nullable = muster_core::store::query::QueryField::column(field).nullable;
            return match (op, nullable) {
                (Comparison::Eq, true) => Ok(Filter::IsNull { field }),
                (Comparison::Eq, false) => Ok(Filter::Or(Vec::new())),
                (Comparison::Ne, true) => Ok(Filter::Not(Box::new(Filter::IsNull { field }))),
                (Comparison::Ne, false) => Ok(Filter::True),
                _ => Err(bad(format!("null can only be compared with eq or ne (on '{name}')."))),
            };
        }
        if let Kind::Enum(ty) = kind {
            // Stored by spelling: an ordered comparison is the set of members whose rank fits.
            let (spelling, rank) = member(name, &ty, literal)?;
            return Ok(match op {
                Comparison::Eq | Comparison::Ne => {
                    Filter::Compare { field, op, value: Value::Text(spelling.to_owned()) }
                }
                _ => Filter::In {
                    field,
                    values: (ty.members)()
                        .into_iter()
                        .filter(|(_, r)| rank_holds(op, *r, rank))
                        .map(|(m, _)| Value::Text(m.to_owned()))
                        .collect(),
                },
            });
        }
        Ok(Filter::Compare { field, op, value: scalar_value(name, kind, literal)? })
    }

    fn in_list<F: Resource>(&mut self, value: &Expr, list: &[Expr]) -> Result<Filter<F>, ApiError> {
        let Expr::Path(path) = value else { return Err(bad("The left side of 'in' must be a property.")) };
        if list.len() > MAX_LIST {
            return Err(bad(format!("An 'in' list may hold at most {MAX_LIST} values.")));
        }
        let (name, property) = Self::property::<F>(path)?;
        let (field, kind) = match property {
            Property::Scalar { field, kind } if !path.count => (field, kind),
            Property::Collection { .. } => {
                return Err(bad(format!("'{name}' is a collection: filter it with {name}/any(t: t in ('a', 'b')).")))
            }
            _ => return Err(bad(format!("'{}' cannot be used with 'in'.", path.display()))),
        };
        let mut values = Vec::new();
        let mut with_null = false;
        for item in list {
            match item {
                Expr::Literal(Literal::Null) => with_null = true,
                Expr::Literal(literal) => values.push(scalar_value(name, kind, literal)?),
                _ => return Err(bad(format!("The list after 'in' (for '{name}') may hold only values."))),
            }
        }
        let listed = Filter::In { field, values };
        Ok(if with_null { Filter::Or(vec![Filter::IsNull { field }, listed]) } else { listed })
    }

    fn call<F: Resource>(&mut self, function: &str, args: &[Expr]) -> Result<Filter<F>, ApiError> {
        let how = match function {
            "contains" => TextMatch::Contains,
            "startswith" => TextMatch::StartsWith,
            "endswith" => TextMatch::EndsWith,
            _ => return Err(unsupported_function(function)),
        };
        let [Expr::Path(path), Expr::Literal(Literal::String(fragment))] = args else {
            return Err(bad(format!(
                "{function}() takes a text property and a quoted string, e.g. {function}(displayName, 'x')."
            )));
        };
        let (name, property) = Self::property::<F>(path)?;
        match property {
            Property::Scalar { field, kind: Kind::Text | Kind::Lowered } if !path.count => {
                Ok(Filter::Text { field, how, fragment: fragment.clone() })
            }
            _ => Err(bad(format!("{function}() works on text properties; '{name}' is not one."))),
        }
    }

    fn lambda<F: Resource>(
        &mut self,
        collection: &Path,
        lambda: Option<&Lambda>,
        any: bool,
    ) -> Result<Filter<F>, ApiError> {
        let (name, property) = Self::property::<F>(collection)?;
        let Property::Collection { facet, element, .. } = property else {
            return Err(bad(format!("'{name}' is not a collection, so any() and all() do not apply.")));
        };
        let Some(lambda) = lambda else { return Ok(Filter::Facet { facet, values: FacetValues::Any }) };
        let (positive, values) = self.element_set(name, element, &lambda.variable, &lambda.body)?;
        if values.len() > MAX_LIST {
            return Err(bad(format!("A lambda may test at most {MAX_LIST} values.")));
        }
        Ok(match (any, positive) {
            (true, true) => Filter::Facet { facet, values: FacetValues::In(values) },
            (true, false) => Filter::Facet { facet, values: FacetValues::NotIn(values) },
            // Every value is in the set: no value lies outside it.
            (false, true) => Filter::Not(Box::new(Filter::Facet { facet, values: FacetValues::NotIn(values) })),
            (false, false) => Filter::Not(Box::new(Filter::Facet { facet, values: FacetValues::In(values) })),
        })
    }

    /// A lambda body as a set of values: `t eq a or t in (b, c)` is "one of", `t ne a and t ne b`
    /// is "none of" (`positive` false).
    fn element_set(
        &mut self,
        property: &str,
        element: Element,
        variable: &str,
        body: &Expr,
    ) -> Result<(bool, Vec<String>), ApiError> {
        let unsupported = || {
            bad(format!(
                "Inside {property}/any() compare '{variable}' with eq or in joined by or (or ne joined by and), \
                 e.g. {property}/any({variable}: {variable} eq 'x' or {variable} eq 'y')."
            ))
        };
        let is_variable =
            |e: &Expr| matches!(e, Expr::Path(p) if !p.count && p.segments.len() == 1 && p.segments[0] == variable);
        let parts = match body {
            Expr::Or(_, _) => chain(body, false),
            Expr::And(_, _) => chain(body, true),
            _ => vec![body],
        };
        let positive = !matches!(body, Expr::And(_, _));
        let mut values = Vec::new();
        for part in parts {
            self.count()?;
            match part {
                Expr::Compare { op, left, right } => {
                    let literal = match (&**left, &**right) {
                        (l, Expr::Literal(lit)) if is_variable(l) => lit,
                        (Expr::Literal(lit), r) if is_variable(r) => lit,
                        _ => return Err(unsupported()),
                    };
                    let wanted = if positive { CompareOp::Eq } else { CompareOp::Ne };
                    if *op != wanted {
                        return Err(unsupported());
                    }
                    values.push(element_value(property, element, literal)?);
                }
                Expr::In { value, list } if positive && is_variable(value) => {
                    for item in list {
                        let Expr::Literal(literal) = item else { return Err(unsupported()) };
                        values.push(element_value(property, element, literal)?);
                    }
                }
                _ => return Err(unsupported()),
            }
        }
        Ok((positive, values))
    }
}
