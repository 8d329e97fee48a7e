//! Decoding the protobuf bodies kubectl's imperative commands send for built-in types
//! (`kubectl create namespace`, `kubectl create secret generic`): the `k8s\0` envelope, then
//! a Secret or Namespace with the ObjectMeta fields a client sets on create.
//!
//! Differences from a real API server: only Secret and Namespace bodies are understood, and
//! of ObjectMeta only name, generateName, namespace, labels, annotations and finalizers; any
//! other protobuf body is a 415. Responses are always JSON (clients accept it).

use base64::Engine;
use serde_json::{Map, Value, json};

/// A protobuf field value: a varint or a length-delimited byte string (fixed-width values are
/// skipped: no field read here uses them).
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The fields of one message, in order.
fn fields(buf: &[u8]) -> Option<Vec<(u64, Wire<'_>)>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        let (number, wire_type) = (tag >> 3, tag & 7);
        match wire_type {
            0 => out.push((number, Wire::Varint(varint(buf, &mut pos)?))),
            1 => pos += 8,
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let bytes = buf.get(pos..pos.checked_add(len)?)?;
                pos += len;
                out.push((number, Wire::Bytes(bytes)));
            }
            5 => pos += 4,
            _ => return None,
        }
    }
    Some(out)
}

fn text(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}

/// A `map<string, string|bytes>` entry: key 1, value 2.
fn entry(bytes: &[u8], base64_value: bool) -> Option<(String, Value)> {
    let mut key = String::new();
    let mut value = Value::String(String::new());
    for (n, wire) in fields(bytes)? {
        match (n, wire) {
            (1, Wire::Bytes(b)) => key = text(b)?,
            (2, Wire::Bytes(b)) if base64_value => {
                value = Value::String(base64::engine::general_purpose::STANDARD.encode(b));
            }
            (2, Wire::Bytes(b)) => value = Value::String(text(b)?),
            _ => {}
        }
    }
    Some((key, value))
}

fn insert_entry(target: &mut Value, field: &str, bytes: &[u8], base64_value: bool) -> Option<()> {
    let (k, v) = entry(bytes, base64_value)?;
    if !target[field].is_object() {
        target[field] = Value::Object(Map::new());
    }
    target[field][k] = v;
    Some(())
}

/// Sets a string field; an empty string is protobuf's "unset" (Go's zero value).
fn set_text(target: &mut Value, field: &str, bytes: &[u8]) -> Option<()> {
    if !bytes.is_empty() {
        target[field] = Value::String(text(bytes)?);
    }
    Some(())
}

fn push_text(target: &mut Value, field: &str, bytes: &[u8]) -> Option<()> {
    if !target[field].is_array() {
        target[field] = json!([]);
    }
    target[field]
        .as_array_mut()?
        .push(Value::String(text(bytes)?));
    Some(())
}

fn object_meta(bytes: &[u8]) -> Option<Value> {
    let mut meta = json!({});
    for (n, wire) in fields(bytes)? {
        let Wire::Bytes(b) = wire else { continue };
        match n {
            1 => set_text(&mut meta, "name", b)?,
            2 => set_text(&mut meta, "generateName", b)?,
            3 => set_text(&mut meta, "namespace", b)?,
            11 => insert_entry(&mut meta, "labels", b, false)?,
            12 => insert_entry(&mut meta, "annotations", b, false)?,
            14 => push_text(&mut meta, "finalizers", b)?,
            _ => {}
        }
    }
    Some(meta)
}

fn secret(bytes: &[u8]) -> Option<Value> {
    let mut secret = json!({"apiVersion": "v1", "kind": "Secret"});
    for (n, wire) in fields(bytes)? {
        match (n, wire) {
            (1, Wire::Bytes(b)) => secret["metadata"] = object_meta(b)?,
            (2, Wire::Bytes(b)) => insert_entry(&mut secret, "data", b, true)?,
            (3, Wire::Bytes(b)) => set_text(&mut secret, "type", b)?,
            (4, Wire::Bytes(b)) => insert_entry(&mut secret, "stringData", b, false)?,
            (5, Wire::Varint(v)) => secret["immutable"] = Value::Bool(v != 0),
            _ => {}
        }
    }
    Some(secret)
}

fn namespace(bytes: &[u8]) -> Option<Value> {
    let mut ns = json!({"apiVersion": "v1", "kind": "Namespace"});
    for (n, wire) in fields(bytes)? {
        match (n, wire) {
            (1, Wire::Bytes(b)) => ns["metadata"] = object_meta(b)?,
            (2, Wire::Bytes(spec)) => {
                for (_, f) in fields(spec)?.into_iter().filter(|(n, _)| *n == 1) {
                    if let Wire::Bytes(b) = f {
                        push_text(&mut ns["spec"], "finalizers", b)?;
                    }
                }
            }
            _ => {}
        }
    }
    Some(ns)
}

/// The JSON object of a protobuf body, if it is a Secret or a Namespace.
pub(crate) fn decode(body: &[u8]) -> Option<Value> {
    let envelope = body.strip_prefix(b"k8s\0")?;
    let (mut kind, mut raw) = (String::new(), None);
    for (n, wire) in fields(envelope)? {
        match (n, wire) {
            (1, Wire::Bytes(type_meta)) => {
                for (m, w) in fields(type_meta)? {
                    if let (2, Wire::Bytes(k)) = (m, w) {
                        kind = text(k)?;
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = Some(b),
            _ => {}
        }
    }
    match kind.as_str() {
        "Secret" => secret(raw?),
        "Namespace" => namespace(raw?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a length-delimited field (lengths < 128 are enough here).
    fn field(n: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3) | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_a_secret_envelope() {
        let meta = [
            field(1, b"key"),
            field(2, b""),
            field(3, b"mail"),
            field(11, &[field(1, b"app"), field(2, b"x")].concat()),
        ]
        .concat();
        let data = [field(1, b"apiKey"), field(2, b"abc")].concat();
        let secret = [field(1, &meta), field(2, &data), field(3, b"Opaque")].concat();
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let body = [b"k8s\0".to_vec(), field(1, &type_meta), field(2, &secret)].concat();
        let value = decode(&body).unwrap();
        assert_eq!(
            value["metadata"],
            json!({"name": "key", "namespace": "mail", "labels": {"app": "x"}})
        );
        assert_eq!(value["data"]["apiKey"], "YWJj");
        assert_eq!(value["type"], "Opaque");
        assert!(decode(b"not protobuf").is_none());
    }
}
