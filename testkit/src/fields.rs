//! Field ownership and server-side apply, simplified.
//!
//! Each object remembers which field manager owns which leaf fields, separately for apply and
//! for update operations (like `managedFields` entries). An apply conflicts when another
//! manager owns a field the applied configuration sets to a different value; `force` takes
//! the field over. Fields a manager applied before and leaves out now are removed unless
//! someone else owns them. The applied configuration is merged like a JSON merge patch.
//!
//! Differences from a real API server: lists are atomic (no `listType=map` merge keys, so
//! two managers cannot own different items of one list), ownership is not written to
//! `metadata.managedFields` (it is omitted), and the schema is not consulted.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A field path from the object's root, e.g. `["spec", "holderIdentity"]`.
pub(crate) type Path = Vec<String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Operation {
    Apply,
    Update,
}

/// Who owns which fields of one object.
#[derive(Clone, Debug, Default)]
pub(crate) struct Owners {
    managers: BTreeMap<(String, Operation), BTreeSet<Path>>,
}

/// Metadata the server maintains; nobody owns it.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The owned leaves of an object: scalars, lists and empty maps, not `null`s, not system fields.
pub(crate) fn leaves(object: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    if let Value::Object(map) = object {
        for (key, value) in map {
            if key == "apiVersion" || key == "kind" {
                continue;
            }
            let mut path = vec![key.clone()];
            if key == "metadata" {
                if let Value::Object(meta) = value {
                    for (k, v) in meta
                        .iter()
                        .filter(|(k, _)| !SYSTEM_METADATA.contains(&k.as_str()))
                    {
                        path.push(k.clone());
                        collect(v, &mut path, &mut out);
                        path.pop();
                    }
                }
                continue;
            }
            collect(value, &mut path, &mut out);
        }
    }
    out
}

fn collect(value: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
    match value {
        Value::Null => {}
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(k.clone());
                collect(v, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

fn value_at<'a>(object: &'a Value, path: &Path) -> Option<&'a Value> {
    path.iter().try_fold(object, |v, k| v.get(k))
}

fn remove_at(object: &mut Value, path: &Path) {
    if let Some((last, parents)) = path.split_last() {
        let parent = parents.iter().try_fold(object, |v, k| v.get_mut(k));
        if let Some(Value::Object(map)) = parent {
            map.remove(last);
        }
    }
}

/// `.spec.holderIdentity`, as apply conflicts name fields.
fn dotted(path: &Path) -> String {
    path.iter().map(|p| format!(".{p}")).collect()
}

impl Owners {
    /// An update (create, PUT or a non-apply patch) by `manager`: it now owns every in-scope
    /// leaf whose value it changed.
    pub fn record_update(
        &mut self,
        manager: &str,
        old: &Value,
        new: &Value,
        in_scope: &dyn Fn(&Path) -> bool,
    ) {
        for path in leaves(new).into_iter().filter(|p| in_scope(p)) {
            if value_at(old, &path) != value_at(new, &path) {
                self.take(manager, Operation::Update, &path);
            }
        }
        self.prune(new);
    }

    /// Server-side apply of `applied` by `manager` onto `current` (`Value::Null` when the object
    /// does not exist yet). Returns the merged object, or the conflicts `(manager, field)` when
    /// not forced.
    pub fn apply(
        &mut self,
        manager: &str,
        current: &Value,
        applied: &Value,
        force: bool,
        in_scope: &dyn Fn(&Path) -> bool,
    ) -> Result<Value, Vec<(String, String)>> {
        let me = (manager.to_string(), Operation::Apply);
        let applied_leaves: BTreeSet<Path> = leaves(applied)
            .into_iter()
            .filter(|p| in_scope(p))
            .collect();
        let mut conflicts = Vec::new();
        for path in &applied_leaves {
            if value_at(current, path) == value_at(applied, path) {
                continue;
            }
            for ((other, _), fields) in &self.managers {
                if other != manager && fields.contains(path) {
                    conflicts.push((other.clone(), dotted(path)));
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(conflicts);
        }

        let mut result = if current.is_object() {
            current.clone()
        } else {
            Value::Object(Default::default())
        };
        let previous = self.managers.remove(&me).unwrap_or_default();
        for path in previous.difference(&applied_leaves) {
            let owned_elsewhere = self.managers.values().any(|f| f.contains(path));
            if !owned_elsewhere {
                remove_at(&mut result, path);
            }
        }
        json_patch::merge(&mut result, applied);
        for path in &applied_leaves {
            if value_at(current, path) != value_at(applied, path) {
                // A changed value is owned by the applier alone (a forced conflict or a free field).
                self.take(manager, Operation::Apply, path);
            } else {
                // The same value: ownership is shared.
                self.managers
                    .entry(me.clone())
                    .or_default()
                    .insert(path.clone());
            }
        }
        Ok(result)
    }

    /// Drops ownership of fields that no longer exist in `object`.
    pub fn prune(&mut self, object: &Value) {
        let present = leaves(object);
        for fields in self.managers.values_mut() {
            fields.retain(|p| present.contains(p));
        }
        self.managers.retain(|_, f| !f.is_empty());
    }

    fn take(&mut self, manager: &str, op: Operation, path: &Path) {
        for fields in self.managers.values_mut() {
            fields.remove(path);
        }
        self.managers
            .entry((manager.to_string(), op))
            .or_default()
            .insert(path.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all(_: &Path) -> bool {
        true
    }

    #[test]
    fn apply_conflicts_with_another_managers_field_unless_forced() {
        let mut owners = Owners::default();
        let applied_a = json!({"spec": {"holder": "a", "ttl": 15}});
        let obj = owners
            .apply("a", &Value::Null, &applied_a, false, &all)
            .unwrap();
        let applied_b = json!({"spec": {"holder": "b", "ttl": 15}});
        let conflicts = owners
            .apply("b", &obj, &applied_b, false, &all)
            .unwrap_err();
        assert_eq!(
            conflicts,
            vec![("a".to_string(), ".spec.holder".to_string())]
        );
        let forced = owners.apply("b", &obj, &applied_b, true, &all).unwrap();
        assert_eq!(forced["spec"]["holder"], "b");
    }

    #[test]
    fn apply_removes_fields_the_manager_no_longer_applies() {
        let mut owners = Owners::default();
        let obj = owners
            .apply(
                "a",
                &Value::Null,
                &json!({"spec": {"x": 1, "y": 2}}),
                false,
                &all,
            )
            .unwrap();
        let obj = owners
            .apply("a", &obj, &json!({"spec": {"x": 1}}), false, &all)
            .unwrap();
        assert_eq!(obj, json!({"spec": {"x": 1}}));
    }

    #[test]
    fn updates_take_ownership_of_changed_fields_only() {
        let mut owners = Owners::default();
        let obj = owners
            .apply(
                "a",
                &Value::Null,
                &json!({"spec": {"x": 1, "y": 2}}),
                false,
                &all,
            )
            .unwrap();
        let updated = json!({"spec": {"x": 1, "y": 3}});
        owners.record_update("u", &obj, &updated, &all);
        // "a" still owns x, lost y: re-applying y=2 conflicts with "u", x=1 does not.
        let conflicts = owners
            .apply(
                "a",
                &updated,
                &json!({"spec": {"x": 1, "y": 2}}),
                false,
                &all,
            )
            .unwrap_err();
        assert_eq!(conflicts, vec![("u".to_string(), ".spec.y".to_string())]);
    }
}
