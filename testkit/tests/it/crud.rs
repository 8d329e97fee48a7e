//! Reads and writes through a real `kube::Client`: CRUD, optimistic concurrency, generation,
//! the status subresource, patches, finalizers, validation and the request log.

use crate::common::{Widget, WidgetStatus, server, widget};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Status;
use kube_testkit::{ResourceRef, Verb};
use serde_json::json;

fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn rv(w: &Widget) -> String {
    w.metadata
        .resource_version
        .clone()
        .expect("resourceVersion")
}

#[tokio::test]
async fn create_get_list_replace_with_conflicts_and_generation() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "ns1");

    let mut input = widget("a", 1);
    input.status = Some(WidgetStatus {
        observed_generation: Some(9),
        conditions: vec![],
    });
    let created = api.create(&PostParams::default(), &input).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    assert_eq!(created.metadata.namespace.as_deref(), Some("ns1"));
    assert_eq!(
        created.status, None,
        "status is dropped on create with a status subresource"
    );
    assert_eq!(
        api_error(api.create(&PostParams::default(), &input).await).reason,
        "AlreadyExists"
    );

    let got = api.get("a").await.unwrap();
    assert_eq!(got, created);
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items, vec![created.clone()]);
    let list_rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert!(list_rv >= rv(&created).parse::<u64>().unwrap());
    assert_eq!(api_error(api.get("missing").await).code, 404);

    // A spec change bumps generation; a stale resourceVersion is a conflict.
    let mut changed = got.clone();
    changed.spec.size = 2;
    let replaced = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(replaced.metadata.generation, Some(2));
    assert_ne!(rv(&replaced), rv(&created));
    let stale = api_error(api.replace("a", &PostParams::default(), &changed).await);
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    let mut no_rv = replaced.clone();
    no_rv.metadata.resource_version = None;
    assert_eq!(
        api_error(api.replace("a", &PostParams::default(), &no_rv).await).code,
        422
    );

    // Metadata changes keep the generation; a write that changes nothing is not committed.
    let label = Patch::Merge(json!({"metadata": {"labels": {"team": "x"}}}));
    let labelled = api
        .patch("a", &PatchParams::default(), &label)
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(2));
    assert_ne!(rv(&labelled), rv(&replaced));
    let again = api
        .patch("a", &PatchParams::default(), &label)
        .await
        .unwrap();
    assert_eq!(rv(&again), rv(&labelled));
    let stale_patch =
        Patch::Merge(json!({"metadata": {"resourceVersion": rv(&replaced)}, "spec": {"size": 5}}));
    assert_eq!(
        api_error(api.patch("a", &PatchParams::default(), &stale_patch).await).code,
        409
    );

    // Selectors and cross-namespace lists.
    let other: Api<Widget> = Api::namespaced(server.client(), "ns2");
    other
        .create(&PostParams::default(), &widget("b", 1))
        .await
        .unwrap();
    let all: Api<Widget> = Api::all(server.client());
    assert_eq!(
        all.list(&ListParams::default()).await.unwrap().items.len(),
        2
    );
    let nowhere = all.create(&PostParams::default(), &widget("c", 1)).await;
    assert_eq!(
        api_error(nowhere).code,
        404,
        "a namespaced object is created in a namespace"
    );
    let labelled_only = all
        .list(&ListParams::default().labels("team=x"))
        .await
        .unwrap();
    assert_eq!(labelled_only.items.len(), 1);
    let by_name = all
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .unwrap();
    assert_eq!(by_name.items[0].metadata.namespace.as_deref(), Some("ns2"));
    let meta = api.get_metadata("a").await.unwrap();
    assert_eq!(meta.metadata.labels.unwrap()["team"], "x");

    let mut generated = widget("", 3);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let made = api
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    assert!(made.metadata.name.unwrap().starts_with("gen-"));
}

#[tokio::test]
async fn status_subresource_changes_only_status() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("s", 1))
        .await
        .unwrap();

    let status_patch = Patch::Merge(json!({
        "spec": {"size": 100},
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}
    }));
    let after = api
        .patch_status("s", &PatchParams::default(), &status_patch)
        .await
        .unwrap();
    assert_eq!(after.spec.size, 1, "a status write ignores spec");
    assert_eq!(
        after.metadata.generation,
        Some(1),
        "a status write keeps the generation"
    );
    assert_eq!(after.status.as_ref().unwrap().observed_generation, Some(1));

    let main_patch =
        Patch::Merge(json!({"spec": {"size": 2}, "status": {"observedGeneration": 7}}));
    let after = api
        .patch("s", &PatchParams::default(), &main_patch)
        .await
        .unwrap();
    assert_eq!(after.spec.size, 2);
    assert_eq!(after.metadata.generation, Some(2));
    assert_eq!(
        after.status.as_ref().unwrap().observed_generation,
        Some(1),
        "main writes ignore status"
    );

    let mut replacement = after.clone();
    replacement.status = Some(WidgetStatus {
        observed_generation: Some(2),
        conditions: vec![],
    });
    replacement.spec.size = 50;
    let replaced = api
        .replace_status("s", &PostParams::default(), &replacement)
        .await
        .unwrap();
    assert_eq!(
        (
            replaced.spec.size,
            replaced.status.unwrap().observed_generation
        ),
        (2, Some(2))
    );

    let apply = Patch::Apply(json!({
        "apiVersion": "testkit.dev/v1", "kind": "Widget",
        "status": {"observedGeneration": 3}
    }));
    let applied = api
        .patch_status("s", &PatchParams::apply("ctl").force(), &apply)
        .await
        .unwrap();
    assert_eq!(applied.status.unwrap().observed_generation, Some(3));
}

#[tokio::test]
async fn json_merge_apply_and_strategic_patches() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("p", 1))
        .await
        .unwrap();

    let add_color: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/size", "value": 1},
        {"op": "add", "path": "/spec/color", "value": "red"}
    ]))
    .unwrap();
    let patched = api
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(add_color))
        .await
        .unwrap();
    assert_eq!(patched.spec.color.as_deref(), Some("red"));
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/size", "value": 9}])).unwrap();
    assert_eq!(
        api_error(
            api.patch("p", &PatchParams::default(), &Patch::Json::<()>(failing))
                .await
        )
        .code,
        422
    );

    let strategic = Patch::Strategic(json!({"spec": {"size": 2}}));
    assert_eq!(
        api_error(api.patch("p", &PatchParams::default(), &strategic).await).code,
        415
    );

    // Server-side apply: creates, conflicts with another manager, force takes over, and fields
    // a manager stops applying are removed.
    let config = |size: i64, color: Option<&str>| {
        let mut spec = json!({"size": size});
        if let Some(c) = color {
            spec["color"] = json!(c);
        }
        Patch::Apply(json!({"apiVersion": "testkit.dev/v1", "kind": "Widget", "spec": spec}))
    };
    let created = api
        .patch("q", &PatchParams::apply("alice"), &config(1, Some("blue")))
        .await
        .unwrap();
    assert_eq!(
        (created.spec.size, created.metadata.generation),
        (1, Some(1))
    );
    let conflict = api_error(
        api.patch("q", &PatchParams::apply("bob"), &config(2, None))
            .await,
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict.message.contains("alice") && conflict.message.contains(".spec.size"),
        "{}",
        conflict.message
    );
    let same_value = api
        .patch("q", &PatchParams::apply("bob"), &config(1, None))
        .await
        .unwrap();
    assert_eq!(
        same_value.spec.color.as_deref(),
        Some("blue"),
        "agreeing on a value is no conflict"
    );
    let forced = api
        .patch("q", &PatchParams::apply("bob").force(), &config(3, None))
        .await
        .unwrap();
    assert_eq!(forced.spec.size, 3);
    let dropped = api
        .patch("q", &PatchParams::apply("alice"), &config(3, None))
        .await
        .unwrap();
    assert_eq!(
        dropped.spec.color, None,
        "alice stopped applying color, nobody else owns it"
    );
    let no_manager = api
        .patch("q", &PatchParams::default(), &config(3, None))
        .await;
    assert_eq!(
        api_error(no_manager).code,
        400,
        "apply needs a fieldManager"
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("f", 1))
        .await
        .unwrap();

    // kube-runtime's finalizer helper: `test` null then `add` (passes on a missing path).
    let add: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["testkit.dev/cleanup"]}
    ]))
    .unwrap();
    let with_finalizer = api
        .patch("f", &PatchParams::default(), &Patch::Json::<()>(add))
        .await
        .unwrap();
    assert_eq!(with_finalizer.metadata.generation, Some(1));

    let deleting = api
        .delete("f", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(
        deleting.metadata.generation,
        Some(2),
        "deletion bumps the generation"
    );
    let still = api.get("f").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());

    let more = Patch::Merge(json!({"metadata": {"finalizers": ["testkit.dev/cleanup", "other"]}}));
    assert_eq!(
        api_error(api.patch("f", &PatchParams::default(), &more).await).code,
        422
    );

    let remove: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "testkit.dev/cleanup"},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]))
    .unwrap();
    api.patch("f", &PatchParams::default(), &Patch::Json::<()>(remove))
        .await
        .unwrap();
    assert_eq!(
        api_error(api.get("f").await).code,
        404,
        "the last finalizer gone, the object is gone"
    );

    api.create(&PostParams::default(), &widget("g", 1))
        .await
        .unwrap();
    api.delete("g", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_error(api.get("g").await).code, 404);
    let precondition = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("nope".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    api.create(&PostParams::default(), &widget("h", 1))
        .await
        .unwrap();
    assert_eq!(api_error(api.delete("h", &precondition).await).code, 409);
}

#[tokio::test]
async fn validator_rejects_writes_with_422_naming_fields() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    let mut bad = widget("v", -1);
    bad.spec.color = Some(String::new());
    let error = api_error(api.create(&PostParams::default(), &bad).await);
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error
            .message
            .starts_with("Widget.testkit.dev \"v\" is invalid: [spec.size"),
        "{}",
        error.message
    );
    assert!(error.message.contains("spec.color"), "{}", error.message);
    let causes = error.details.unwrap().causes;
    let fields: Vec<_> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["spec.size", "spec.color"]);

    let good = api
        .create(&PostParams::default(), &widget("v", 1))
        .await
        .unwrap();
    let negative = Patch::Merge(json!({"spec": {"size": -5}}));
    assert_eq!(
        api_error(api.patch("v", &PatchParams::default(), &negative).await).code,
        422
    );
    assert_eq!(
        api.get("v").await.unwrap(),
        good,
        "a rejected write changes nothing"
    );

    // Ratcheting: an object stored with an invalid spec (bypassing validation) still takes
    // writes that leave the invalid field as it is, but not new failures.
    let mut stored = serde_json::to_value(widget("old", -3)).unwrap();
    stored["metadata"]["namespace"] = json!("default");
    server
        .put_object(&ResourceRef::of::<Widget>(), stored)
        .unwrap();
    let status = Patch::Merge(json!({"status": {"observedGeneration": 1}}));
    api.patch_status("old", &PatchParams::default(), &status)
        .await
        .unwrap();
    let label = Patch::Merge(json!({"metadata": {"labels": {"seen": "yes"}}}));
    api.patch("old", &PatchParams::default(), &label)
        .await
        .unwrap();
    let worse = Patch::Merge(json!({"spec": {"size": -4}}));
    assert_eq!(
        api_error(api.patch("old", &PatchParams::default(), &worse).await).code,
        422
    );
    let fixed = Patch::Merge(json!({"spec": {"size": 4}}));
    api.patch("old", &PatchParams::default(), &fixed)
        .await
        .unwrap();
    // Counting without copying sees the same objects as listing.
    let widgets = ResourceRef::of::<Widget>();
    let observed = |o: &serde_json::Value| o["status"]["observedGeneration"] == 1;
    assert_eq!(server.count_objects(&widgets, Some("default"), observed), 1);
    assert_eq!(
        server.count_objects(&widgets, None, |_| true),
        server.list_objects(&widgets, None).len()
    );
    assert_eq!(
        server.count_objects(&widgets, Some("elsewhere"), |_| true),
        0
    );
}

#[tokio::test]
async fn request_log_counts_reads_and_writes() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("r", 1))
        .await
        .unwrap();
    api.get("r").await.unwrap();
    api.patch_status(
        "r",
        &PatchParams::apply("me"),
        &Patch::Apply(json!({
            "apiVersion": "testkit.dev/v1", "kind": "Widget", "status": {"observedGeneration": 1}
        })),
    )
    .await
    .unwrap();
    api.list(&ListParams::default()).await.unwrap();

    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let preview = api.create(&dry_run, &widget("dry", 1)).await.unwrap();
    assert_eq!(preview.metadata.generation, Some(1));
    assert_eq!(
        api_error(api.get("dry").await).code,
        404,
        "a dry run stores nothing"
    );
    let conflict = api.create(&PostParams::default(), &widget("r", 1)).await;
    assert_eq!(api_error(conflict).code, 409);

    assert_eq!(server.count(|r| r.is_write()), 4);
    assert_eq!(server.count(|r| r.is_write() && r.succeeded()), 3);
    assert_eq!(
        server.count(|r| r.verb == Verb::Get && r.is_for("widgets")),
        2,
        "one found, one 404"
    );
    assert_eq!(server.count(|r| r.verb == Verb::List), 1);
    let status_write = server
        .requests()
        .into_iter()
        .find(|r| r.is_status())
        .unwrap();
    assert_eq!(status_write.verb, Verb::Patch);
    assert_eq!(
        status_write.query_param("fieldManager").as_deref(),
        Some("me")
    );
    assert_eq!(
        status_write.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert_eq!(status_write.status, 200);
    assert_eq!(
        status_write.resource,
        Some(ResourceRef::new("testkit.dev", "widgets"))
    );

    server.clear_requests();
    assert!(server.requests().is_empty());
    let stored = server
        .get_object(&ResourceRef::of::<Widget>(), Some("default"), "r")
        .unwrap();
    assert_eq!(stored["status"]["observedGeneration"], 1);
}

#[tokio::test]
async fn lists_come_in_pages_of_limit() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "ns1");
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        api.create(&PostParams::default(), &widget(name, i as i64))
            .await
            .unwrap();
    }
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    let names = |list: &kube::core::ObjectList<Widget>| {
        list.items
            .iter()
            .map(|w| w.metadata.name.clone().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), ["a", "b"]);
    assert_eq!(first.metadata.remaining_item_count, Some(1));
    let token = first.metadata.continue_.clone().expect("a continue token");
    let second = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(names(&second), ["c"]);
    assert_eq!(second.metadata.continue_, None);
    // Without a limit, one page holds everything.
    let all = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(names(&all), ["a", "b", "c"]);
}
