//! Segment expressions over the output rows (`spec/CLI.md`, `rapport
//! segment`): columns, by their CSV names, compared with numbers or dates
//! (YYYY-MM-DD) by `= != < <= > >=`, joined by `AND` and `OR` (AND binds
//! tighter; both case-insensitive), with parentheses. An empty field never
//! matches, whatever the operator. A column is compared with what it
//! holds: dates with dates, counts and averages with numbers; `AccountId`
//! and `AggregationLevel` are not comparable. An error names the character
//! where the offending token starts.

use chrono::NaiveDate;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => ordering == Equal,
            Op::Ne => ordering != Equal,
            Op::Lt => ordering == Less,
            Op::Le => ordering != Greater,
            Op::Gt => ordering == Greater,
            Op::Ge => ordering != Less,
        }
    }

    /// The operator as written.
    pub fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// What a comparison compares with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A number.
    Number(f64),
    /// A date.
    Date(NaiveDate),
}

/// A parsed expression; columns are indexes into the header it was
/// parsed against.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `column op value`.
    Compare {
        /// The column's index.
        column: usize,
        /// The operator.
        op: Op,
        /// The value.
        value: Value,
    },
    /// Both hold.
    And(Box<Expr>, Box<Expr>),
    /// Either holds.
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// True when the row (its fields in header order) matches.
    pub fn matches(&self, fields: &[&str]) -> bool {
        match self {
            Expr::And(a, b) => a.matches(fields) && b.matches(fields),
            Expr::Or(a, b) => a.matches(fields) || b.matches(fields),
            Expr::Compare { column, op, value } => {
                let field = fields.get(*column).copied().unwrap_or("").trim();
                if field.is_empty() {
                    return false;
                }
                let ordering = match value {
                    Value::Number(v) => field.parse::<f64>().ok().and_then(|f| f.partial_cmp(v)),
                    Value::Date(v) => parse_date(field).map(|f| f.cmp(v)),
                };
                ordering.is_some_and(|o| op.holds(o))
            }
        }
    }
}

impl Expr {
    /// True when the row matches, given each column's typed value (`None`
    /// for an empty field): the same answer as [`Expr::matches`] on the
    /// row's text, without parsing it.
    pub fn matches_by(&self, value_of: &dyn Fn(usize) -> Option<Value>) -> bool {
        match self {
            Expr::And(a, b) => a.matches_by(value_of) && b.matches_by(value_of),
            Expr::Or(a, b) => a.matches_by(value_of) || b.matches_by(value_of),
            Expr::Compare { column, op, value } => {
                let ordering = match (value_of(*column), value) {
                    (Some(Value::Number(f)), Value::Number(v)) => f.partial_cmp(v),
                    (Some(Value::Date(f)), Value::Date(v)) => Some(f.cmp(v)),
                    _ => None,
                };
                ordering.is_some_and(|o| op.holds(o))
            }
        }
    }
}

/// A bad expression: where, what, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad expression at character {at} ({token:?}): {message}")]
pub struct SegmentError {
    /// Where the offending token starts, from 1.
    pub at: usize,
    /// The token (empty at the end).
    pub token: String,
    /// What was expected or is wrong.
    pub message: String,
}

/// What a column holds, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Compared with numbers.
    Number,
    /// Compared with dates.
    Date,
    /// Not comparable.
    Text,
}

/// The kind of the output column `name`.
pub fn column_kind(name: &str) -> ColumnKind {
    match name {
        "AccountId" | "AggregationLevel" => ColumnKind::Text,
        n if n.ends_with("Date") => ColumnKind::Date,
        _ => ColumnKind::Number,
    }
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Word(String),
    Literal(String),
    Op(Op),
    Open,
    Close,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    at: usize,
    text: String,
}

fn tokens(text: &str) -> Result<Vec<Token>, SegmentError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let take = |i: &mut usize, ok: &dyn Fn(char) -> bool| {
            while *i < chars.len() && ok(chars[*i]) {
                *i += 1;
            }
        };
        let kind = if c.is_whitespace() {
            i += 1;
            continue;
        } else if c == '(' {
            i += 1;
            Kind::Open
        } else if c == ')' {
            i += 1;
            Kind::Close
        } else if c.is_ascii_alphabetic() || c == '_' {
            take(&mut i, &|c| c.is_ascii_alphanumeric() || c == '_');
            Kind::Word(chars[start..i].iter().collect())
        } else if c.is_ascii_digit()
            || ((c == '-' || c == '.') && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            i += 1;
            take(&mut i, &|c| c.is_ascii_digit() || c == '.' || c == '-');
            Kind::Literal(chars[start..i].iter().collect())
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let (op, len) = match (two.as_str(), c) {
                ("!=", _) => (Op::Ne, 2),
                ("<=", _) => (Op::Le, 2),
                (">=", _) => (Op::Ge, 2),
                (_, '=') => (Op::Eq, 1),
                (_, '<') => (Op::Lt, 1),
                (_, '>') => (Op::Gt, 1),
                _ => {
                    return Err(SegmentError {
                        at: start + 1,
                        token: c.to_string(),
                        message: "not part of an expression".to_owned(),
                    })
                }
            };
            i += len;
            Kind::Op(op)
        };
        out.push(Token {
            kind,
            at: start + 1,
            text: chars[start..i].iter().collect(),
        });
    }
    out.push(Token {
        kind: Kind::End,
        at: chars.len() + 1,
        text: String::new(),
    });
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    next: usize,
    columns: &'a [&'a str],
}

fn fail<T>(token: &Token, message: impl Into<String>) -> Result<T, SegmentError> {
    Err(SegmentError {
        at: token.at,
        token: token.text.clone(),
        message: message.into(),
    })
}

fn keyword(token: &Token, word: &str) -> bool {
    matches!(&token.kind, Kind::Word(w) if w.eq_ignore_ascii_case(word))
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        self.next += 1;
        token
    }

    fn or(&mut self) -> Result<Expr, SegmentError> {
        let mut left = self.and()?;
        while keyword(self.peek(), "OR") {
            self.bump();
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SegmentError> {
        let mut left = self.atom()?;
        while keyword(self.peek(), "AND") {
            self.bump();
            left = Expr::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }

    fn atom(&mut self) -> Result<Expr, SegmentError> {
        let token = self.bump();
        match &token.kind {
            Kind::Open => {
                let inner = self.or()?;
                let close = self.bump();
                if close.kind != Kind::Close {
                    return fail(&close, "expected ) to close the ( before it");
                }
                Ok(inner)
            }
            Kind::Word(w) if keyword(&token, "AND") || keyword(&token, "OR") => {
                fail(&token, format!("expected a column before {w}"))
            }
            Kind::Word(name) => self.comparison(&token, name),
            _ => fail(&token, "expected a column or ("),
        }
    }

    fn comparison(&mut self, column_token: &Token, name: &str) -> Result<Expr, SegmentError> {
        let Some(column) = self.columns.iter().position(|c| *c == name) else {
            return fail(column_token, "no such column (names as in the CSV header)");
        };
        let kind = column_kind(name);
        if kind == ColumnKind::Text {
            return fail(column_token, "this column is text: it cannot be compared");
        }
        let op_token = self.bump();
        let Kind::Op(op) = op_token.kind else {
            return fail(&op_token, "expected = != < <= > or >=");
        };
        let value_token = self.bump();
        let Kind::Literal(text) = &value_token.kind else {
            return fail(&value_token, "expected a number or a date (YYYY-MM-DD)");
        };
        let value = match kind {
            ColumnKind::Date => match parse_date(text) {
                Some(d) => Value::Date(d),
                None => {
                    return fail(
                        &value_token,
                        format!("{name} holds dates: expected YYYY-MM-DD"),
                    )
                }
            },
            _ => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Value::Number(v),
                _ => {
                    return fail(
                        &value_token,
                        format!("{name} holds numbers: expected a number"),
                    )
                }
            },
        };
        Ok(Expr::Compare { column, op, value })
    }
}

/// Parses `text` against the output header `columns`.
pub fn parse(text: &str, columns: &[&str]) -> Result<Expr, SegmentError> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        next: 0,
        columns,
    };
    let expr = parser.or()?;
    let rest = parser.bump();
    if rest.kind != Kind::End {
        return fail(&rest, "expected AND, OR or the end");
    }
    Ok(expr)
}

#[cfg(test)]
#[path = "segment_tests.rs"]
mod tests;
