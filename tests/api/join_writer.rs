//! The join writer: concurrent joins are committed together, each in its own savepoint, and
//! every request is answered only after the commit that holds it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lianming::auth::CurrentUser;
use lianming::entities::users;
use lianming::error::AppError;
use lianming::participation::dto::JoinRequest;
use lianming::participation::writer::{Fault, JoinJob, JoinWriter, commit_batch};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::app::{Backend, TestApp, create_account};
use crate::on_both_databases;

async fn current_user(app: &TestApp, n: usize) -> CurrentUser {
    let id = create_account(
        app,
        &format!("joiner{n}@example.com"),
        &format!("参与者{n}"),
        "a long enough password",
        false,
    )
    .await;
    users::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("user")
        .into()
}

fn job(user: &CurrentUser, slug: &str, version: i64) -> JoinJob {
    let req: JoinRequest =
        serde_json::from_value(TestApp::join_body(&user.display_name, version)).expect("request");
    JoinJob {
        user: user.clone(),
        slug: slug.to_owned(),
        req,
        network: None,
    }
}

async fn group(app: &TestApp) -> String {
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let g = app.create_group(&owner, serde_json::json!({})).await;
    g["slug"].as_str().expect("slug").to_owned()
}

on_both_databases!(
    a_batch_holding_one_invalid_join_commits_the_others_and_answers_the_bad_one_alone,
    joins_racing_in_one_batch_for_the_same_user_give_one_join_and_409s,
    a_writer_failing_mid_batch_loses_no_answered_join_and_leaves_no_orphan_mail,
    one_batch_answers_new_joins_a_re_join_and_each_kind_of_refusal,
    writers_committing_at_once_join_each_pair_once_across_their_batches,
);

async fn a_batch_holding_one_invalid_join_commits_the_others_and_answers_the_bad_one_alone(
    backend: Backend,
) {
    // Arrange: three good joins and one signing a statement version that does not exist.
    let app = TestApp::on(backend).await;
    let slug = group(&app).await;
    let mut users = Vec::new();
    for n in 0..4 {
        users.push(current_user(&app, n).await);
    }
    let mails_before = app.count_rows("outbox").await;
    let jobs = vec![
        job(&users[0], &slug, 1),
        job(&users[1], &slug, 1),
        job(&users[2], &slug, 7),
        job(&users[3], &slug, 1),
    ];

    // Act
    let results = commit_batch(&app.state.db, &app.state.ctx, jobs, None).await;

    // Assert
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
    assert!(
        matches!(
            &results[2],
            Err(AppError::Conflict("statement_version_stale", _))
        ),
        "{:?}",
        results[2]
    );
    assert_eq!(app.count_rows("participations").await, 3);
    assert_eq!(app.count_rows("signatures").await, 3);
    assert_eq!(
        app.count_rows("outbox").await - mails_before,
        3,
        "one confirmation per kept join, none for the refused one"
    );
}

async fn joins_racing_in_one_batch_for_the_same_user_give_one_join_and_409s(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let slug = group(&app).await;
    let user = current_user(&app, 0).await;
    let mails_before = app.count_rows("outbox").await;
    let jobs = (0..5).map(|_| job(&user, &slug, 1)).collect();

    // Act
    let results = commit_batch(&app.state.db, &app.state.ctx, jobs, None).await;

    // Assert
    assert!(results[0].is_ok(), "{:?}", results[0]);
    for r in &results[1..] {
        assert!(
            matches!(r, Err(AppError::Conflict("already_joined", _))),
            "{r:?}"
        );
    }
    assert_eq!(app.count_rows("participations").await, 1);
    assert_eq!(app.count_rows("signatures").await, 1);
    assert_eq!(app.count_rows("outbox").await - mails_before, 1);
}

async fn writers_committing_at_once_join_each_pair_once_across_their_batches(backend: Backend) {
    // Arrange: four writer tasks taking batches of two from one queue, as PostgreSQL's join
    // writer runs; three people each send four joins to the same group at once, so the copies
    // of one pair land in different batches committing side by side.
    let app = TestApp::on(backend).await;
    let slug = group(&app).await;
    let mut users = Vec::new();
    for n in 0..3 {
        users.push(current_user(&app, n).await);
    }
    let mails_before = app.count_rows("outbox").await;
    let writer = JoinWriter::spawn(
        app.state.db.clone(),
        app.state.ctx.clone(),
        app.state.wake(),
        app.state.write_gate.clone(),
        2,
        4,
        None,
    );

    // Act
    let answers = futures_util::future::join_all(
        (0..4)
            .flat_map(|_| users.iter())
            .map(|u| writer.join(job(u, &slug, 1)))
            .collect::<Vec<_>>(),
    )
    .await;

    // Assert: per person one join and three 409s; one row, one signature, one email each.
    for (n, user) in users.iter().enumerate() {
        let theirs: Vec<_> = answers.iter().skip(n).step_by(users.len()).collect();
        let joined = theirs.iter().filter(|a| a.is_ok()).count();
        assert_eq!(joined, 1, "{}: {theirs:?}", user.display_name);
        for a in theirs.iter().filter(|a| a.is_err()) {
            assert!(
                matches!(a, Err(AppError::Conflict("already_joined", _))),
                "{a:?}"
            );
        }
    }
    assert_eq!(app.count_rows("participations").await, 3);
    assert_eq!(app.count_rows("signatures").await, 3);
    assert_eq!(app.count_rows("outbox").await - mails_before, 3);
}

async fn a_writer_failing_mid_batch_loses_no_answered_join_and_leaves_no_orphan_mail(
    backend: Backend,
) {
    // Arrange: a writer whose third written join panics, as a crash between the writes of a
    // batch and its commit would.
    let app = TestApp::on(backend).await;
    let slug = group(&app).await;
    let mut users = Vec::new();
    for n in 0..12 {
        users.push(current_user(&app, n).await);
    }
    let mails_before = app.count_rows("outbox").await;
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let fault: Fault = Arc::new(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 2 {
            panic!("simulated crash of the join writer");
        }
    });
    let writer = JoinWriter::spawn(
        app.state.db.clone(),
        app.state.ctx.clone(),
        app.state.wake(),
        app.state.write_gate.clone(),
        4,
        1,
        Some(fault),
    );

    // Act: twelve joins at once.
    let answers = futures_util::future::join_all(
        users
            .iter()
            .map(|u| writer.join(job(u, &slug, 1)))
            .collect::<Vec<_>>(),
    )
    .await;

    // Assert: the batch that crashed kept nothing and its callers were told (503); every join
    // answered as made is in the database with its confirmation email, and nothing else is.
    let kept = answers.iter().filter(|a| a.is_ok()).count();
    let refused = answers
        .iter()
        .filter(|a| {
            matches!(
                a,
                Err(AppError::ServiceUnavailable("join_not_committed", _))
            )
        })
        .count();
    assert!(refused >= 1, "the crash must refuse its batch: {answers:?}");
    assert_eq!(kept + refused, 12, "{answers:?}");
    assert_eq!(app.count_rows("participations").await, kept as i64);
    assert_eq!(app.count_rows("signatures").await, kept as i64);
    assert_eq!(app.count_rows("outbox").await - mails_before, kept as i64);

    // The writer goes on after the failed batch.
    let late = current_user(&app, 99).await;
    writer
        .join(job(&late, &slug, 1))
        .await
        .expect("a join after the crash");
    assert_eq!(app.count_rows("participations").await, kept as i64 + 1);
}

async fn one_batch_answers_new_joins_a_re_join_and_each_kind_of_refusal(backend: Backend) {
    // Arrange: two open groups, a closed one, and a participant who joined and withdrew.
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "组织者").await;
    let mut open = Vec::new();
    for title in ["退款超过三十天未到账", "白条分期多收手续费"] {
        let g = app
            .create_group(&owner, serde_json::json!({ "title": title }))
            .await;
        open.push(g["slug"].as_str().expect("slug").to_owned());
    }
    let closed = app.create_group(&owner, serde_json::json!({})).await;
    let closed = closed["slug"].as_str().expect("slug").to_owned();
    lianming::entities::groups::Entity::update_many()
        .col_expr(
            lianming::entities::groups::Column::Status,
            sea_orm::sea_query::Expr::value(lianming::entities::enums::GroupStatus::Closed),
        )
        .filter(lianming::entities::groups::Column::Slug.eq(closed.as_str()))
        .exec(&app.db)
        .await
        .expect("close the group");
    let mut users = Vec::new();
    for n in 0..5 {
        users.push(current_user(&app, n).await);
    }
    let first = commit_batch(
        &app.db,
        &app.state.ctx,
        vec![job(&users[0], &open[0], 1)],
        None,
    )
    .await
    .remove(0)
    .expect("first join");
    lianming::participation::service::withdraw(&app.db, &app.state.ctx, &users[0], &open[0])
        .await
        .expect("withdraw");
    let mails_before = app.count_rows("outbox").await;
    let mut late = job(&users[3], &open[1], 1);
    late.req.incident_date = chrono::Utc::now().date_naive() + chrono::Days::new(3);
    let jobs = vec![
        job(&users[1], &open[0], 1),
        job(&users[0], &open[0], 1),
        job(&users[1], &open[1], 1),
        job(&users[2], &closed, 1),
        job(&users[2], "no-such-group", 1),
        late,
        job(&users[4], &open[1], 1),
    ];

    // Act
    let results = commit_batch(&app.db, &app.state.ctx, jobs, None).await;

    // Assert: the new joins and the re-join are kept, each refusal answered alone.
    let joined: Vec<_> = [(0, 1), (1, 0), (2, 1), (6, 4)]
        .iter()
        .map(|&(i, u)| (results[i].as_ref().expect("a kept join"), &users[u]))
        .collect();
    assert_eq!(
        joined[1].0.participation.id, first.participation.id,
        "a re-join re-activates the withdrawn record"
    );
    assert_eq!(
        joined[1].0.participation.status,
        lianming::entities::enums::ParticipationStatus::Active
    );
    for (j, user) in &joined {
        assert_eq!(j.participation.user_id, user.id);
        assert_eq!(j.signature.participation_id, j.participation.id);
        assert_eq!(j.signature.full_name, user.display_name);
    }
    assert!(
        matches!(&results[3], Err(AppError::Conflict("group_closed", _))),
        "{:?}",
        results[3]
    );
    assert!(
        matches!(&results[4], Err(AppError::NotFound)),
        "{:?}",
        results[4]
    );
    assert!(
        matches!(&results[5], Err(AppError::Validation(f)) if f.contains_key("incident_date")),
        "{:?}",
        results[5]
    );
    assert_eq!(app.count_rows("participations").await, 4);
    assert_eq!(
        app.count_rows("signatures").await,
        5,
        "the first join's and four new"
    );
    assert_eq!(app.count_rows("outbox").await - mails_before, 4);
}

#[tokio::test]
async fn the_cached_group_view_follows_joins_and_never_holds_private_fields() {
    // Arrange: the view is read (and cached) before anyone joins.
    let app = TestApp::spawn().await;
    let slug = group(&app).await;
    let path = format!("/groups/{slug}");
    let before = crate::helpers::app::json_body(app.get(&path, None).await).await;
    assert_eq!(before["participant_count"], 0, "{before}");
    let joiner = app.verified_user("li.na@example.com", "李娜").await;
    let mut body = TestApp::join_body("李娜真名", 1);
    body["statement"] = "我的私人陈述：退款 4321 元一直没到账。".into();

    // Act: a join through the API, then a join this instance did not make (written straight to
    // the database, as another instance would).
    let res = app
        .post(
            &format!("{path}/participation"),
            Some(&joiner.access_token),
            body,
        )
        .await;
    assert_eq!(res.status(), 201);
    let after_api = app.get(&path, None).await.text().await.expect("body");
    let other = current_user(&app, 7).await;
    let (results, counted) = (
        commit_batch(&app.db, &app.state.ctx, vec![job(&other, &slug, 1)], None).await,
        std::time::Instant::now(),
    );
    assert!(results[0].is_ok());
    let mut seen = 0;
    while counted.elapsed() < lianming::groups::cache::MAX_AGE * 3 {
        let v = crate::helpers::app::json_body(app.get(&path, None).await).await;
        seen = v["participant_count"].as_i64().expect("count");
        if seen == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Assert: this instance's join shows at once; the other's once the entry has aged out.
    let view: serde_json::Value = serde_json::from_str(&after_api).expect("json");
    assert_eq!(view["participant_count"], 1, "{after_api}");
    assert_eq!(
        seen, 2,
        "a write made elsewhere shows within the cache's age bound"
    );
    for private in [
        "李娜真名",
        "li.na@example.com",
        "我的私人陈述",
        "4321",
        "T2026030200001",
    ] {
        assert!(!after_api.contains(private), "{private} in {after_api}");
    }
}
