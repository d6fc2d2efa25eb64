//! Values as Terraform sends them: null and unknown anywhere, decoded against a [`Type`] from
//! msgpack (plans, state, config) or JSON (stored state), and converted to and from typed
//! models through serde when they are fully known.

use super::path::{AttributePath, Step};
use super::types::Type;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Number, Value as Json};
use std::collections::BTreeMap;

/// A Terraform value of any type.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// Absent: the attribute was not set.
    #[default]
    Null,
    /// Known only after apply.
    Unknown,
    /// `bool`
    Bool(bool),
    /// `number`; integers stay integers.
    Number(Number),
    /// `string`
    String(String),
    /// `list(T)` or `tuple(...)`
    List(Vec<Value>),
    /// `set(T)`
    Set(Vec<Value>),
    /// `map(T)`
    Map(BTreeMap<String, Value>),
    /// `object({...})`
    Object(BTreeMap<String, Value>),
}

/// Why a value could not be decoded or converted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ValueError {
    /// Bytes that are not the msgpack Terraform writes.
    #[error("malformed msgpack: {0}")]
    Msgpack(String),
    /// A value whose shape does not match the schema's type.
    #[error("at {path}: expected {expected}, found {found}")]
    Mismatch {
        /// Where in the value.
        path: String,
        /// The type the schema declares.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A typed model was asked of a value with unknowns in it.
    #[error("{0} is not known yet")]
    NotKnown(String),
    /// serde could not map the value onto the model.
    #[error("model: {0}")]
    Model(String),
}

const UNKNOWN_EXT: i8 = 0;
const REFINED_UNKNOWN_EXT: i8 = 12;

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Self {
        Value::String(s.into())
    }

    /// A number from an `f64`; NaN and infinities (which Terraform cannot carry) become null.
    pub fn float(f: f64) -> Self {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }

    /// A number from an integer.
    pub fn int(i: i64) -> Self {
        Value::Number(i.into())
    }

    /// An object from name/value pairs.
    pub fn object<'a>(attrs: impl IntoIterator<Item = (&'a str, Value)>) -> Self {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for [`Value::Unknown`] (this value only, not its elements).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) => v.iter().all(Value::is_fully_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_fully_known),
            _ => true,
        }
    }

    /// An object's attribute; null when this is not an object or the attribute is absent.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Value::Object(m) | Value::Map(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Sets an object's attribute (no effect on other values).
    pub fn set(&mut self, name: &str, value: Value) {
        if let Value::Object(m) = self {
            m.insert(name.to_string(), value);
        }
    }

    /// The value at `path`, or null when the path leads nowhere.
    pub fn at(&self, path: &AttributePath) -> &Value {
        static NULL: Value = Value::Null;
        let mut here = self;
        for step in path.steps() {
            here = match (step, here) {
                (Step::Attribute(n), v) | (Step::Key(n), v) => v.get(n),
                (Step::Index(i), Value::List(items) | Value::Set(items)) => usize::try_from(*i)
                    .ok()
                    .and_then(|i| items.get(i))
                    .unwrap_or(&NULL),
                _ => &NULL,
            };
        }
        here
    }

    /// The string, when this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number as `f64`, when this is a known number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// The number as `i64`, when this is a known whole number in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            }),
            _ => None,
        }
    }

    /// The boolean, when this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
        }
    }

    // ---- msgpack ----

    /// Decodes Terraform's msgpack encoding of a value of type `ty`.
    pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Self, ValueError> {
        let mut rest = bytes;
        let raw =
            rmpv::decode::read_value(&mut rest).map_err(|e| ValueError::Msgpack(e.to_string()))?;
        if !rest.is_empty() {
            return Err(ValueError::Msgpack(format!(
                "{} bytes after the value",
                rest.len()
            )));
        }
        from_rmpv(&raw, ty, &mut Vec::new())
    }

    /// Encodes this value as Terraform's msgpack for type `ty`.
    pub fn to_msgpack(&self, ty: &Type) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &to_rmpv(self, ty))
            .expect("writing msgpack to a Vec cannot fail");
        out
    }

    // ---- JSON ----

    /// Decodes the JSON form (stored state, import) of a value of type `ty`.
    pub fn from_json(json: &Json, ty: &Type) -> Result<Self, ValueError> {
        from_json(json, ty, &mut Vec::new())
    }

    /// The JSON form of a fully known value.
    pub fn to_json(&self) -> Result<Json, ValueError> {
        Ok(match self {
            Value::Null => Json::Null,
            Value::Unknown => return Err(ValueError::NotKnown("value".into())),
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(s.clone()),
            Value::List(v) | Value::Set(v) => {
                Json::Array(v.iter().map(Value::to_json).collect::<Result<_, _>>()?)
            }
            Value::Map(m) | Value::Object(m) => Json::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_json()?)))
                    .collect::<Result<_, ValueError>>()?,
            ),
        })
    }

    // ---- typed models ----

    /// Reads a fully known value into a serde model (null attributes become `None`).
    pub fn to_model<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        let json = self.to_json()?;
        serde_json::from_value(json).map_err(|e| ValueError::Model(e.to_string()))
    }

    /// Builds a value of type `ty` from a serde model.
    pub fn from_model<T: Serialize>(model: &T, ty: &Type) -> Result<Self, ValueError> {
        let json = serde_json::to_value(model).map_err(|e| ValueError::Model(e.to_string()))?;
        Value::from_json(&json, ty)
    }
}

fn mismatch(path: &[String], ty: &Type, found: &str) -> ValueError {
    ValueError::Mismatch {
        path: if path.is_empty() {
            "(root)".into()
        } else {
            path.join(".")
        },
        expected: ty.to_json().to_string(),
        found: found.to_string(),
    }
}

fn from_rmpv(raw: &rmpv::Value, ty: &Type, path: &mut Vec<String>) -> Result<Value, ValueError> {
    use rmpv::Value as R;
    if let R::Ext(code, _) = raw {
        return if *code == UNKNOWN_EXT || *code == REFINED_UNKNOWN_EXT {
            Ok(Value::Unknown)
        } else {
            Err(mismatch(path, ty, &format!("msgpack extension {code}")))
        };
    }
    if raw.is_nil() {
        return Ok(Value::Null);
    }
    let nested = |raw: &rmpv::Value, ty: &Type, seg: String, path: &mut Vec<String>| {
        path.push(seg);
        let v = from_rmpv(raw, ty, path);
        path.pop();
        v
    };
    match (ty, raw) {
        (Type::Bool, R::Boolean(b)) => Ok(Value::Bool(*b)),
        (Type::Number, R::Integer(i)) => Ok(Value::Number(
            i.as_i64()
                .map(Number::from)
                .or_else(|| i.as_u64().map(Number::from))
                .ok_or_else(|| mismatch(path, ty, "integer"))?,
        )),
        (Type::Number, R::F32(f)) => Ok(Value::float(f64::from(*f))),
        (Type::Number, R::F64(f)) => Ok(Value::float(*f)),
        (Type::Number, R::String(s)) => {
            let text = s.as_str().unwrap_or_default();
            text.parse::<Number>()
                .map(Value::Number)
                .map_err(|_| mismatch(path, ty, &format!("string {text:?}")))
        }
        (Type::String, R::String(s)) => s
            .as_str()
            .map(Value::string)
            .ok_or_else(|| mismatch(path, ty, "invalid UTF-8")),
        (Type::List(el) | Type::Set(el), R::Array(items)) => {
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| nested(item, el, i.to_string(), path))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(values)
            } else {
                Value::List(values)
            })
        }
        (Type::Tuple(types), R::Array(items)) if types.len() == items.len() => Ok(Value::List(
            items
                .iter()
                .zip(types)
                .enumerate()
                .map(|(i, (item, t))| nested(item, t, i.to_string(), path))
                .collect::<Result<_, _>>()?,
        )),
        (Type::Map(el), R::Map(entries)) => {
            let mut m = BTreeMap::new();
            for (k, v) in entries {
                let key = k
                    .as_str()
                    .ok_or_else(|| mismatch(path, ty, "non-string key"))?;
                m.insert(key.to_string(), nested(v, el, key.to_string(), path)?);
            }
            Ok(Value::Map(m))
        }
        (Type::Object(attrs), R::Map(entries)) => {
            let mut m: BTreeMap<String, Value> =
                attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
            for (k, v) in entries {
                let key = k
                    .as_str()
                    .ok_or_else(|| mismatch(path, ty, "non-string key"))?;
                let attr_ty = attrs
                    .get(key)
                    .ok_or_else(|| mismatch(path, ty, &format!("unexpected attribute {key:?}")))?;
                m.insert(key.to_string(), nested(v, attr_ty, key.to_string(), path)?);
            }
            Ok(Value::Object(m))
        }
        (Type::Dynamic, R::Array(pair)) if pair.len() == 2 => {
            let type_json: Json = match &pair[0] {
                R::Binary(b) => serde_json::from_slice(b).ok(),
                R::String(s) => s.as_str().and_then(|s| serde_json::from_str(s).ok()),
                _ => None,
            }
            .ok_or_else(|| mismatch(path, ty, "dynamic value without a type"))?;
            let inner = Type::from_json(&type_json)
                .ok_or_else(|| mismatch(path, ty, &format!("type {type_json}")))?;
            from_rmpv(&pair[1], &inner, path)
        }
        (_, other) => Err(mismatch(path, ty, &format!("{other}"))),
    }
}

fn to_rmpv(value: &Value, ty: &Type) -> rmpv::Value {
    use rmpv::Value as R;
    match (value, ty) {
        (Value::Null, _) => R::Nil,
        (Value::Unknown, _) => R::Ext(UNKNOWN_EXT, vec![0]),
        (v, Type::Dynamic) => {
            let inner = infer_type(v);
            R::Array(vec![
                R::Binary(inner.to_json().to_string().into_bytes()),
                to_rmpv(v, &inner),
            ])
        }
        (Value::Bool(b), _) => R::Boolean(*b),
        (Value::Number(n), _) => {
            if let Some(i) = n.as_i64() {
                R::from(i)
            } else if let Some(u) = n.as_u64() {
                R::from(u)
            } else {
                R::F64(n.as_f64().unwrap_or_default())
            }
        }
        (Value::String(s), _) => R::from(s.as_str()),
        (Value::List(items) | Value::Set(items), Type::Tuple(types)) => R::Array(
            items
                .iter()
                .zip(types)
                .map(|(v, t)| to_rmpv(v, t))
                .collect(),
        ),
        (Value::List(items) | Value::Set(items), Type::List(el) | Type::Set(el)) => {
            R::Array(items.iter().map(|v| to_rmpv(v, el)).collect())
        }
        (Value::Map(m) | Value::Object(m), Type::Map(el)) => R::Map(
            m.iter()
                .map(|(k, v)| (R::from(k.as_str()), to_rmpv(v, el)))
                .collect(),
        ),
        (Value::Map(m) | Value::Object(m), Type::Object(attrs)) => R::Map(
            attrs
                .iter()
                .map(|(k, t)| {
                    (
                        R::from(k.as_str()),
                        to_rmpv(m.get(k).unwrap_or(&Value::Null), t),
                    )
                })
                .collect(),
        ),
        (v, _) => to_rmpv(v, &infer_type(v)),
    }
}

/// The type a value has on its own: for dynamic attributes, and for a value whose shape
/// disagrees with the declared type.
fn infer_type(v: &Value) -> Type {
    match v {
        Value::Null | Value::Unknown => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) => Type::Tuple(items.iter().map(infer_type).collect()),
        Value::Set(items) => Type::set(items.first().map_or(Type::Dynamic, infer_type)),
        Value::Map(m) => Type::map(m.values().next().map_or(Type::Dynamic, infer_type)),
        Value::Object(m) => {
            Type::Object(m.iter().map(|(k, v)| (k.clone(), infer_type(v))).collect())
        }
    }
}

fn from_json(json: &Json, ty: &Type, path: &mut Vec<String>) -> Result<Value, ValueError> {
    let nested = |j: &Json, ty: &Type, seg: String, path: &mut Vec<String>| {
        path.push(seg);
        let v = from_json(j, ty, path);
        path.pop();
        v
    };
    match (ty, json) {
        (_, Json::Null) => Ok(Value::Null),
        (Type::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
        (Type::Number, Json::Number(n)) => Ok(Value::Number(n.clone())),
        (Type::Number, Json::String(s)) => s
            .parse::<Number>()
            .map(Value::Number)
            .map_err(|_| mismatch(path, ty, &format!("string {s:?}"))),
        (Type::String, Json::String(s)) => Ok(Value::string(s.clone())),
        (Type::String, Json::Number(n)) => Ok(Value::string(n.to_string())),
        (Type::String, Json::Bool(b)) => Ok(Value::string(b.to_string())),
        (Type::List(el) | Type::Set(el), Json::Array(items)) => {
            let values = items
                .iter()
                .enumerate()
                .map(|(i, j)| nested(j, el, i.to_string(), path))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(values)
            } else {
                Value::List(values)
            })
        }
        (Type::Tuple(types), Json::Array(items)) if types.len() == items.len() => Ok(Value::List(
            items
                .iter()
                .zip(types)
                .enumerate()
                .map(|(i, (j, t))| nested(j, t, i.to_string(), path))
                .collect::<Result<_, _>>()?,
        )),
        (Type::Map(el), Json::Object(entries)) => Ok(Value::Map(
            entries
                .iter()
                .map(|(k, j)| Ok((k.clone(), nested(j, el, k.clone(), path)?)))
                .collect::<Result<_, ValueError>>()?,
        )),
        (Type::Object(attrs), Json::Object(entries)) => {
            let mut m = BTreeMap::new();
            for (name, attr_ty) in attrs {
                let j = entries.get(name).unwrap_or(&Json::Null);
                m.insert(name.clone(), nested(j, attr_ty, name.clone(), path)?);
            }
            Ok(Value::Object(m))
        }
        (Type::Dynamic, j) => Ok(json_untyped(j)),
        (_, other) => Err(mismatch(path, ty, json_kind(other))),
    }
}

fn json_untyped(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(n.clone()),
        Json::String(s) => Value::string(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(json_untyped).collect()),
        Json::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), json_untyped(v)))
                .collect(),
        ),
    }
}

fn json_kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_type() -> Type {
        Type::object([
            ("name", Type::String),
            ("count", Type::Number),
            ("ratio", Type::Number),
            ("on", Type::Bool),
            ("tags", Type::map(Type::String)),
            (
                "blocks",
                Type::list(Type::object([
                    ("id", Type::String),
                    ("ports", Type::set(Type::Number)),
                ])),
            ),
        ])
    }

    fn nested_value() -> Value {
        Value::object([
            ("name", Value::string("x")),
            ("count", Value::int(512)),
            ("ratio", Value::float(0.7)),
            ("on", Value::Unknown),
            (
                "tags",
                Value::Map([("a".to_string(), Value::Unknown)].into()),
            ),
            (
                "blocks",
                Value::List(vec![
                    Value::object([
                        ("id", Value::Unknown),
                        ("ports", Value::Set(vec![Value::int(80)])),
                    ]),
                    Value::object([("id", Value::string("b")), ("ports", Value::Unknown)]),
                ]),
            ),
        ])
    }

    #[test]
    fn msgpack_round_trips_unknowns_in_nested_structures() {
        let ty = nested_type();
        let v = nested_value();
        let bytes = v.to_msgpack(&ty);
        assert_eq!(Value::from_msgpack(&bytes, &ty).unwrap(), v);
        assert!(!v.is_fully_known());
    }

    #[test]
    fn unknown_is_extension_zero() {
        assert_eq!(
            Value::Unknown.to_msgpack(&Type::String),
            vec![0xd4, 0x00, 0x00]
        );
    }

    #[test]
    fn refined_unknowns_decode_as_unknown() {
        // ext 12 with a map payload: an unknown with refinements (e.g. "not null").
        let bytes = [0xd5, 0x0c, 0x81, 0x01];
        assert_eq!(
            Value::from_msgpack(&bytes, &Type::String).unwrap(),
            Value::Unknown
        );
    }

    #[test]
    fn missing_object_attributes_decode_as_null() {
        let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
        let bytes = Value::object([("a", Value::string("x"))])
            .to_msgpack(&Type::object([("a", Type::String)]));
        let v = Value::from_msgpack(&bytes, &ty).unwrap();
        assert_eq!(v.get("b"), &Value::Null);
    }

    #[test]
    fn wrong_shapes_name_the_path() {
        let ty = Type::object([("a", Type::list(Type::Number))]);
        let json = serde_json::json!({"a": [1, "x"]});
        let err = Value::from_json(&json, &ty).unwrap_err();
        assert!(
            err.to_string().starts_with("at a.1: expected \"number\""),
            "{err}"
        );
    }

    #[test]
    fn numbers_in_strings_are_terraform_big_numbers() {
        let bytes = {
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, &rmpv::Value::from("12345678901234567")).unwrap();
            out
        };
        assert_eq!(
            Value::from_msgpack(&bytes, &Type::Number).unwrap().as_i64(),
            Some(12345678901234567)
        );
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let v = Value::object([("k", Value::string("v"))]);
        let bytes = v.to_msgpack(&Type::Dynamic);
        assert_eq!(Value::from_msgpack(&bytes, &Type::Dynamic).unwrap(), v);
    }

    #[test]
    fn models_round_trip_through_serde() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct M {
            name: String,
            count: Option<u32>,
        }
        let ty = Type::object([("name", Type::String), ("count", Type::Number)]);
        let v = Value::from_model(
            &M {
                name: "a".into(),
                count: None,
            },
            &ty,
        )
        .unwrap();
        assert_eq!(v.get("count"), &Value::Null);
        assert_eq!(
            v.to_model::<M>().unwrap(),
            M {
                name: "a".into(),
                count: None
            }
        );
        let unknown = Value::object([("name", Value::Unknown), ("count", Value::Null)]);
        assert!(matches!(
            unknown.to_model::<M>(),
            Err(ValueError::NotKnown(_))
        ));
    }

    #[test]
    fn garbage_bytes_are_an_error_not_a_panic() {
        for bytes in [&[0xd9u8][..], &[0x92, 0x01][..], &[][..], &[0xc0, 0xc0][..]] {
            assert!(Value::from_msgpack(bytes, &nested_type()).is_err());
        }
    }
}
