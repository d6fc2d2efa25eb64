//! Request and answer bodies: protojson `Payloads` read under limits, and written one payload at
//! a time under a size limit.
//!
//! Reading stops at the first payload past `max-payloads` and the first metadata entry past
//! [`MAX_METADATA_ENTRIES`], so a body of a million empty payloads costs no more than the limit.
//! A body that does not parse is described by where it failed and what shape was expected
//! there; serde's own messages are never passed on, since they quote the offending value.
//!
//! Writing appends each converted payload's JSON to the answer as soon as it exists, so a request
//! holds its payloads once, not twice, and checks the answer's size before each payload, so an
//! answer never grows past `max-response-bytes`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::codec::Payload;
use crate::codec::format::{
    ENCODING_ENCRYPTED, METADATA_ENCODING, METADATA_KEY_ID, METADATA_NAMESPACE,
};
use crate::codec::payload::{append_base64, decode_base64};
use crate::codec::server::error::ApiError;

/// Most metadata entries one payload may carry. Temporal's converters write one to three
/// (`encoding`, `messageType`, an encryption key id); the bound keeps a body of tiny entries
/// from costing a map node each without limit.
pub const MAX_METADATA_ENTRIES: usize = 64;

/// Parses a protojson `Payloads` body of at most `max_payloads` payloads.
pub fn parse(body: &[u8], max_payloads: usize) -> Result<Vec<Payload>, ApiError> {
    let raised = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let top = Top {
        max_payloads,
        raised: &raised,
    };
    let parsed = top
        .deserialize(&mut deserializer)
        .and_then(|payloads| deserializer.end().map(|()| payloads));
    parsed.map_err(|e| describe(&e, raised.into_inner()))
}

/// The caller's error for a failed parse: ours if we raised one, else the position and kind of
/// serde_json's, without its message.
fn describe(error: &serde_json::Error, raised: Option<Raised>) -> ApiError {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", error.line(), error.column());
    match (error.classify(), raised) {
        (Category::Data, Some(Raised::Error(error))) => error,
        (Category::Data, Some(Raised::Shape(shape))) => {
            ApiError::BadBody(format!("{shape} ({at})"))
        }
        (Category::Data, None) => ApiError::BadBody(format!(
            "expected {{\"payloads\": [{{\"metadata\": {{...}}, \"data\": \"<base64>\"}}]}} ({at})"
        )),
        (Category::Eof, _) => ApiError::BadBody("the body ends before its JSON does".into()),
        (Category::Syntax | Category::Io, _) => {
            ApiError::BadBody(format!("the body is not valid JSON ({at})"))
        }
    }
}

/// What our visitors raised, kept beside serde's error.
enum Raised {
    /// A limit or a value we refused.
    Error(ApiError),
    /// The innermost place a value had the wrong shape, and the shape expected.
    Shape(String),
}

/// Shared by the visitors: records the first (innermost) reason.
#[derive(Clone, Copy)]
struct Reason<'a>(&'a RefCell<Option<Raised>>);

impl Reason<'_> {
    fn raise<E: de::Error>(self, error: ApiError) -> E {
        self.0.borrow_mut().get_or_insert(Raised::Error(error));
        E::custom("refused")
    }

    fn shape<E: de::Error>(self, shape: impl FnOnce() -> String) -> impl FnOnce(E) -> E {
        move |error| {
            self.0
                .borrow_mut()
                .get_or_insert_with(|| Raised::Shape(shape()));
            error
        }
    }
}

struct Top<'a> {
    max_payloads: usize,
    raised: &'a RefCell<Option<Raised>>,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Vec<Payload>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let reason = Reason(self.raised);
        d.deserialize_map(self)
            .map_err(reason.shape(|| "the body must be a JSON object".into()))
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Vec<Payload>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a protojson Payloads object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let reason = Reason(self.raised);
        let mut payloads = None;
        while let Some(field) = map.next_key_seed(Field(&["payloads"]))? {
            match field {
                Some(_) if payloads.is_some() => {
                    return Err(reason.raise(ApiError::BadBody(
                        "the field `payloads` appears twice".into(),
                    )));
                }
                Some(_) => {
                    payloads = Some(map.next_value_seed(List {
                        max: self.max_payloads,
                        reason,
                    })?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(payloads.unwrap_or_default())
    }
}

/// An object key: the index of the known field it names, or `None` for any other key (its text
/// is neither kept nor shown).
struct Field(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Field {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|known| *known == v))
    }
}

struct List<'a> {
    max: usize,
    reason: Reason<'a>,
}

impl<'de> DeserializeSeed<'de> for List<'_> {
    type Value = Vec<Payload>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let reason = self.reason;
        d.deserialize_seq(self)
            .map_err(reason.shape(|| "`payloads` must be an array of payload objects".into()))
    }
}

impl<'de> Visitor<'de> for List<'_> {
    type Value = Vec<Payload>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of payloads")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut payloads = Vec::new();
        loop {
            if payloads.len() == self.max {
                return match seq.next_element::<IgnoredAny>()? {
                    Some(_) => Err(self
                        .reason
                        .raise(ApiError::TooManyPayloads { limit: self.max })),
                    None => Ok(payloads),
                };
            }
            let one = One {
                index: payloads.len(),
                reason: self.reason,
            };
            match seq.next_element_seed(one)? {
                Some(payload) => payloads.push(payload),
                None => return Ok(payloads),
            }
        }
    }
}

/// `payloads[index]`.
struct One<'a> {
    index: usize,
    reason: Reason<'a>,
}

impl<'de> DeserializeSeed<'de> for One<'_> {
    type Value = Payload;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let (index, reason) = (self.index, self.reason);
        d.deserialize_map(self)
            .map_err(reason.shape(|| format!("payloads[{index}] must be an object")))
    }
}

impl<'de> Visitor<'de> for One<'_> {
    type Value = Payload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a payload object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (index, reason) = (self.index, self.reason);
        let mut metadata = None;
        let mut data = None;
        while let Some(field) = map.next_key_seed(Field(&["metadata", "data"]))? {
            let twice = |name: &str| {
                reason.raise(ApiError::BadBody(format!(
                    "payloads[{index}] has the field `{name}` twice"
                )))
            };
            match field {
                Some(0) if metadata.is_some() => return Err(twice("metadata")),
                Some(0) => metadata = Some(map.next_value_seed(Metadata { index, reason })?),
                Some(_) if data.is_some() => return Err(twice("data")),
                Some(_) => {
                    let value = Base64 {
                        what: Place::Data(index),
                        reason,
                    };
                    data = Some(map.next_value_seed(value)?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Payload {
            metadata: metadata.unwrap_or_default(),
            data: data.unwrap_or_default(),
            external_payloads: Vec::new(),
        })
    }
}

/// `payloads[index].metadata`.
struct Metadata<'a> {
    index: usize,
    reason: Reason<'a>,
}

impl<'de> DeserializeSeed<'de> for Metadata<'_> {
    type Value = BTreeMap<String, Vec<u8>>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let (index, reason) = (self.index, self.reason);
        d.deserialize_map(self).map_err(
            reason.shape(|| {
                format!("payloads[{index}].metadata must be an object of base64 strings")
            }),
        )
    }
}

impl<'de> Visitor<'de> for Metadata<'_> {
    type Value = BTreeMap<String, Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of base64 strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (index, reason) = (self.index, self.reason);
        let mut metadata = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if metadata.len() == MAX_METADATA_ENTRIES {
                return Err(reason.raise(ApiError::BadBody(format!(
                    "payloads[{index}].metadata has more than {MAX_METADATA_ENTRIES} entries"
                ))));
            }
            let value = map.next_value_seed(Base64 {
                what: Place::Metadata(index),
                reason,
            })?;
            if metadata.insert(key, value).is_some() {
                return Err(reason.raise(ApiError::BadBody(format!(
                    "payloads[{index}].metadata names one key twice"
                ))));
            }
        }
        Ok(metadata)
    }
}

/// Where a base64 value sits, for messages.
#[derive(Clone, Copy)]
enum Place {
    Data(usize),
    Metadata(usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Data(i) => write!(f, "payloads[{i}].data"),
            Self::Metadata(i) => write!(f, "a value of payloads[{i}].metadata"),
        }
    }
}

struct Base64<'a> {
    what: Place,
    reason: Reason<'a>,
}

impl<'de> DeserializeSeed<'de> for Base64<'_> {
    type Value = Vec<u8>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let (what, reason) = (self.what, self.reason);
        // As bytes: serde_json then reads the string (escapes included) without checking that
        // it is UTF-8, which base64 is whenever it decodes.
        d.deserialize_bytes(self)
            .map_err(reason.shape(|| format!("{what} must be a base64 string")))
    }
}

impl Visitor<'_> for Base64<'_> {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        decode_base64(v).map_err(|_| {
            self.reason
                .raise(ApiError::BadBody(format!("{} is not base64", self.what)))
        })
    }
}

/// The protojson `Payloads` answer, written one payload at a time, never longer than `limit`.
pub struct Answer {
    out: Vec<u8>,
    limit: usize,
    count: usize,
}

/// `{"payloads":[` and `]}`.
const FRAME: (&[u8], &[u8]) = (b"{\"payloads\":[", b"]}");

impl Answer {
    /// An empty answer with room for `capacity` bytes.
    pub fn new(capacity: usize, limit: usize) -> Self {
        let mut out = Vec::with_capacity(capacity.min(limit));
        out.extend_from_slice(FRAME.0);
        Self {
            out,
            limit,
            count: 0,
        }
    }

    /// Appends `payload`, unless the answer would then exceed the limit.
    pub fn push(&mut self, payload: &Payload) -> Result<(), ApiError> {
        let separator = usize::from(self.count > 0);
        let len = item_len(
            payload.metadata.iter().map(|(k, v)| (k.as_str(), v.len())),
            payload.data.len(),
        );
        if self.out.len() + separator + len + FRAME.1.len() > self.limit {
            return Err(ApiError::AnswerTooLarge { limit: self.limit });
        }
        if separator == 1 {
            self.out.push(b',');
        }
        self.out.push(b'{');
        if !payload.metadata.is_empty() {
            self.out.extend_from_slice(b"\"metadata\":{");
            for (i, (key, value)) in payload.metadata.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                write_json_string(&mut self.out, key);
                self.out.push(b':');
                write_base64(&mut self.out, value);
            }
            self.out.push(b'}');
        }
        if !payload.data.is_empty() {
            if !payload.metadata.is_empty() {
                self.out.push(b',');
            }
            self.out.extend_from_slice(b"\"data\":");
            write_base64(&mut self.out, &payload.data);
        }
        self.out.push(b'}');
        self.count += 1;
        Ok(())
    }

    /// The finished JSON.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(FRAME.1);
        self.out
    }
}

/// The length of the answer to encoding payloads whose sealed data will be `sealed_lens` bytes
/// under the data key `key_id`: known before sealing, so an answer too large is refused before
/// it costs a seal.
pub fn encoded_answer_len(
    key_id: &str,
    namespace: &str,
    sealed_lens: impl Iterator<Item = usize>,
) -> usize {
    let mut len = FRAME.0.len() + FRAME.1.len();
    for (i, sealed) in sealed_lens.enumerate() {
        let metadata = [
            (METADATA_ENCODING, ENCODING_ENCRYPTED.len()),
            (METADATA_KEY_ID, key_id.len()),
            (METADATA_NAMESPACE, namespace.len()),
        ];
        len += usize::from(i > 0) + item_len(metadata.into_iter(), sealed);
    }
    len
}

/// The JSON length of one payload as [`Answer::push`] writes it.
fn item_len<'a>(metadata: impl Iterator<Item = (&'a str, usize)>, data_len: usize) -> usize {
    let mut len = 2;
    let mut entries = 0;
    for (key, value_len) in metadata {
        len += usize::from(entries > 0) + json_string_len(key) + 1 + base64_len(value_len);
        entries += 1;
    }
    if entries > 0 {
        len += "\"metadata\":{}".len();
    }
    if data_len > 0 {
        len += usize::from(entries > 0) + "\"data\":".len() + base64_len(data_len);
    }
    len
}

/// Padded base64 of `n` bytes, in quotes.
fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4 + 2
}

fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    append_base64(bytes, out);
    out.push(b'"');
}

/// Counts bytes written.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn json_string_len(text: &str) -> usize {
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, text);
    counter.0
}

fn write_json_string(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(out, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Payloads;

    fn message(body: &str) -> String {
        parse(body.as_bytes(), 3).unwrap_err().to_string()
    }

    #[test]
    fn parses_protojson_payloads_as_the_payload_type_does() {
        let body = r#"{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg"},"data":"ImhpIg=="},{}],"other":[1,{"a":2}]}"#;
        let parsed = parse(body.as_bytes(), 10).unwrap();
        let reference: Payloads = serde_json::from_str(body).unwrap();
        assert_eq!(parsed, reference.payloads);
        assert!(parse(b"{}", 10).unwrap().is_empty());
    }

    #[test]
    fn the_payload_count_is_bounded_while_reading() {
        assert_eq!(parse(br#"{"payloads":[{},{},{}]}"#, 3).unwrap().len(), 3);
        assert!(matches!(
            parse(br#"{"payloads":[{},{},{},{}]}"#, 3),
            Err(ApiError::TooManyPayloads { limit: 3 })
        ));
        let many = format!(r#"{{"payloads":[{}{{}}]}}"#, "{},".repeat(100_000));
        assert!(matches!(
            parse(many.as_bytes(), 1000),
            Err(ApiError::TooManyPayloads { limit: 1000 })
        ));
    }

    #[test]
    fn metadata_entries_are_bounded() {
        let entries: Vec<String> = (0..=MAX_METADATA_ENTRIES)
            .map(|i| format!(r#""k{i}":"""#))
            .collect();
        let body = format!(
            r#"{{"payloads":[{{"metadata":{{{}}}}}]}}"#,
            entries.join(",")
        );
        assert!(message(&body).contains("more than 64 entries"));
    }

    #[test]
    fn messages_name_the_place_and_shape_never_the_value() {
        let secret = "4111-1111-1111-1111";
        for (body, expected) in [
            (format!(r#""{secret}""#), "must be a JSON object"),
            (
                format!(r#"{{"payloads":"{secret}"}}"#),
                "`payloads` must be an array",
            ),
            (
                format!(r#"{{"payloads":["{secret}"]}}"#),
                "payloads[0] must be an object",
            ),
            (
                format!(r#"{{"payloads":[{{}},{{"data":"{secret}!"}}]}}"#),
                "payloads[1].data is not base64",
            ),
            (
                format!(r#"{{"payloads":[{{"data":["{secret}"]}}]}}"#),
                "payloads[0].data must be a base64 string",
            ),
            (
                format!(r#"{{"payloads":[{{"metadata":{{"{secret}":"{secret}"}}}}]}}"#),
                "a value of payloads[0].metadata is not base64",
            ),
            (
                format!(r#"{{"payloads":[{{"metadata":"{secret}"}}]}}"#),
                "payloads[0].metadata must be an object",
            ),
            (
                format!(r#"{{"payloads":[{secret}"#),
                "payloads[0] must be an object",
            ),
            (
                format!(r#"{{"payloads":[{{"data" "{secret}"}}]}}"#),
                "not valid JSON",
            ),
            (r#"{"payloads":["#.to_string(), "ends before its JSON"),
            (
                r#"{"payloads":[],"payloads":[]}"#.to_string(),
                "appears twice",
            ),
            (
                r#"{"payloads":[{"data":"","data":""}]}"#.to_string(),
                "`data` twice",
            ),
            (r#"{} x"#.to_string(), "not valid JSON"),
        ] {
            let text = message(&body);
            assert!(text.contains(expected), "{body}: {text}");
            assert!(!text.contains("4111"), "{body}: {text}");
        }
    }

    #[test]
    fn the_answer_is_the_payloads_json_and_its_length_is_predicted() {
        let payloads = vec![
            Payload::new("json/plain", b"\"hi\"".to_vec()),
            Payload::default(),
            Payload {
                metadata: [("we\"ird\n".to_string(), vec![1, 2])].into(),
                ..Payload::default()
            },
        ];
        let mut answer = Answer::new(0, usize::MAX);
        for p in &payloads {
            answer.push(p).unwrap();
        }
        let text = answer.finish();
        let expected = serde_json::to_vec(&Payloads {
            payloads: payloads.clone(),
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            String::from_utf8(expected).unwrap()
        );

        let sealed = [
            Payload {
                metadata: [
                    (
                        METADATA_ENCODING.to_string(),
                        ENCODING_ENCRYPTED.as_bytes().to_vec(),
                    ),
                    (METADATA_KEY_ID.to_string(), b"dek-1".to_vec()),
                    (METADATA_NAMESPACE.to_string(), b"orders".to_vec()),
                ]
                .into(),
                data: vec![5; 1000],
                external_payloads: Vec::new(),
            },
            Payload {
                metadata: [
                    (
                        METADATA_ENCODING.to_string(),
                        ENCODING_ENCRYPTED.as_bytes().to_vec(),
                    ),
                    (METADATA_KEY_ID.to_string(), b"dek-1".to_vec()),
                    (METADATA_NAMESPACE.to_string(), b"orders".to_vec()),
                ]
                .into(),
                data: vec![5; 31],
                external_payloads: Vec::new(),
            },
        ];
        let mut answer = Answer::new(0, usize::MAX);
        for p in &sealed {
            answer.push(p).unwrap();
        }
        assert_eq!(
            answer.finish().len(),
            encoded_answer_len("dek-1", "orders", sealed.iter().map(|p| p.data.len()))
        );
    }

    #[test]
    fn the_answer_stops_at_its_limit() {
        let payload = Payload::new("json/plain", vec![b'a'; 300]);
        let mut answer = Answer::new(0, 1000);
        assert!(answer.push(&payload).is_ok());
        assert!(answer.push(&payload).is_ok());
        assert!(matches!(
            answer.push(&payload),
            Err(ApiError::AnswerTooLarge { limit: 1000 })
        ));
        assert!(answer.finish().len() <= 1000);
    }
}
