//! The `pattern` keyword of CRD schemas: a small backtracking regular expression matcher.
//!
//! kube-openapi's validator checks `pattern` with Go's `regexp.MatchString`, which finds a match
//! anywhere in the value unless the pattern is anchored. This matcher supports what published CRD
//! schemas use: literals, `.`, classes (`[a-z]`, `[^.]`), `\d \w \s` and escaped punctuation,
//! groups (capturing and `(?:`), alternation, `* + ? {n} {n,} {n,m}`, `^ $`, and the `(?i)` flag.
//! A pattern it cannot parse is reported, so a schema never silently accepts everything.

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    Any,
    Class(Vec<(char, char)>, bool),
    Start,
    End,
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Node,
    fold: bool,
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    fold: &'a mut bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn alternation(&mut self) -> Result<Node, String> {
        let mut branches = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.remove(0)
        } else {
            Node::Alt(branches)
        })
    }

    fn concat(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                let close = self.chars[self.pos..]
                    .iter()
                    .position(|c| *c == '}')
                    .ok_or("unclosed {")?;
                let body: String = self.chars[self.pos + 1..self.pos + close].iter().collect();
                let number = |s: &str| s.trim().parse::<u32>().map_err(|e| e.to_string());
                let bounds = match body.split_once(',') {
                    None => {
                        let n = number(&body)?;
                        (n, Some(n))
                    }
                    Some((lo, "")) => (number(lo)?, None),
                    Some((lo, hi)) => (number(lo)?, Some(number(hi)?)),
                };
                self.pos += close;
                bounds
            }
            _ => return Ok(atom),
        };
        self.pos += 1;
        if self.peek() == Some('?') {
            return Err("lazy quantifiers are not supported".into());
        }
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    fn escape(&mut self) -> Result<Node, String> {
        let c = self.peek().ok_or("trailing backslash")?;
        self.pos += 1;
        Ok(match c {
            'd' => Node::Class(vec![('0', '9')], false),
            'D' => Node::Class(vec![('0', '9')], true),
            'w' => Node::Class(vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')], false),
            'W' => Node::Class(vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')], true),
            's' => Node::Class(
                vec![
                    (' ', ' '),
                    ('\t', '\t'),
                    ('\n', '\n'),
                    ('\r', '\r'),
                    ('\x0c', '\x0c'),
                ],
                false,
            ),
            'n' => Node::Char('\n'),
            't' => Node::Char('\t'),
            c if c.is_ascii_punctuation() => Node::Char(c),
            c => return Err(format!("unsupported escape \\{c}")),
        })
    }

    fn class(&mut self) -> Result<Node, String> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.peek().ok_or("unclosed [")?;
            self.pos += 1;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = if c == '\\' {
                match self.escape()? {
                    Node::Char(c) => c,
                    Node::Class(mut more, false) => {
                        ranges.append(&mut more);
                        continue;
                    }
                    _ => return Err("unsupported escape in class".into()),
                }
            } else {
                c
            };
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|c| *c != ']') {
                self.pos += 1;
                let hi = self.peek().ok_or("unclosed [")?;
                self.pos += 1;
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Node::Class(ranges, negated))
    }

    fn atom(&mut self) -> Result<Node, String> {
        let c = self.peek().ok_or("unexpected end")?;
        self.pos += 1;
        match c {
            '(' => {
                if self.peek() == Some('?') {
                    let rest: String = self.chars[self.pos..].iter().take(3).collect();
                    if rest.starts_with("?i)") {
                        self.pos += 3;
                        *self.fold = true;
                        return Ok(Node::Concat(Vec::new()));
                    }
                    if rest.starts_with("?:") {
                        self.pos += 2;
                    } else {
                        return Err(format!("unsupported group ({rest}"));
                    }
                }
                let inner = self.alternation()?;
                if self.peek() != Some(')') {
                    return Err("unclosed (".into());
                }
                self.pos += 1;
                Ok(inner)
            }
            '[' => self.class(),
            '.' => Ok(Node::Any),
            '^' => Ok(Node::Start),
            '$' => Ok(Node::End),
            '\\' => self.escape(),
            '*' | '+' | '?' => Err(format!("nothing to repeat before {c}")),
            c => Ok(Node::Char(c)),
        }
    }
}

impl Pattern {
    /// Compiles a pattern; an error names what is not supported.
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        let mut fold = false;
        let mut parser = Parser {
            chars: pattern.chars().collect(),
            pos: 0,
            fold: &mut fold,
        };
        let root = parser.alternation()?;
        if parser.pos != parser.chars.len() {
            return Err(format!("unexpected ) at {}", parser.pos));
        }
        Ok(Pattern { root, fold })
    }

    /// Whether the pattern matches somewhere in `text` (Go `regexp.MatchString`).
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        (0..=chars.len()).any(|start| self.at(&self.root, &chars, start, &mut |_| true))
    }

    fn same(&self, a: char, b: char) -> bool {
        a == b || (self.fold && a.to_lowercase().eq(b.to_lowercase()))
    }

    fn in_class(&self, ranges: &[(char, char)], c: char) -> bool {
        let hit = |c: char| ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
        hit(c) || (self.fold && (c.to_lowercase().any(hit) || c.to_uppercase().any(hit)))
    }

    fn at(
        &self,
        node: &Node,
        text: &[char],
        pos: usize,
        next: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        match node {
            Node::Char(c) => pos < text.len() && self.same(text[pos], *c) && next(pos + 1),
            Node::Any => pos < text.len() && text[pos] != '\n' && next(pos + 1),
            Node::Class(ranges, negated) => {
                pos < text.len() && self.in_class(ranges, text[pos]) != *negated && next(pos + 1)
            }
            Node::Start => pos == 0 && next(pos),
            Node::End => pos == text.len() && next(pos),
            Node::Concat(items) => self.sequence(items, text, pos, next),
            Node::Alt(branches) => branches.iter().any(|b| self.at(b, text, pos, next)),
            Node::Repeat(inner, min, max) => self.repeat(inner, *min, *max, 0, text, pos, next),
        }
    }

    fn sequence(
        &self,
        items: &[Node],
        text: &[char],
        pos: usize,
        next: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        match items.split_first() {
            None => next(pos),
            Some((first, rest)) => self.at(first, text, pos, &mut |p| {
                self.sequence(rest, text, p, next)
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn repeat(
        &self,
        inner: &Node,
        min: u32,
        max: Option<u32>,
        count: u32,
        text: &[char],
        pos: usize,
        next: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        let can_more = max.is_none_or(|m| count < m);
        if can_more {
            let more = self.at(inner, text, pos, &mut |p| {
                p != pos && self.repeat(inner, min, max, count + 1, text, p, next)
            });
            if more {
                return true;
            }
        }
        count >= min && next(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DURATION: &str = "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$";

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern).expect("pattern").is_match(text)
    }

    #[test]
    fn prometheus_operator_durations() {
        for ok in ["30s", "1m", "1h20m15s", "15d", "0", "500ms", "1y2w"] {
            assert!(matches(DURATION, ok), "{ok}");
        }
        for bad in ["30", "30x", "1m1h", "s", " 30s", "30s "] {
            assert!(!matches(DURATION, bad), "{bad}");
        }
    }

    #[test]
    fn unanchored_classes_flags_and_escapes() {
        assert!(matches(
            "(^0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$",
            "10MiB"
        ));
        assert!(!matches(
            "(^0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$",
            "10Mi"
        ));
        assert!(matches("^(?i)(abort|warn)?$", "ABORT"));
        assert!(matches("^([0-9]+(\\.[0-9]+)?(s|m|h))+$", "1.5s10m"));
        assert!(matches("^(http|https)://.+$", "https://x"));
        assert!(!matches("^(http|https)://.+$", "ftp://x"));
        assert!(matches("b", "abc"));
        assert!(matches("^a{2,3}$", "aaa"));
        assert!(!matches("^a{2,3}$", "aaaa"));
    }
}
