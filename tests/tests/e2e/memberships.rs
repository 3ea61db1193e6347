//! One person in several organizations, and invitations answered, withdrawn and left.

use super::*;
use crate::attacks::*;
use crate::within::*;

/// One person, admin of A and member of B. Each token carries one organization and reaches
/// nothing of the other, over every tenant route of the template; a switch takes effect with a
/// refresh; removal from B takes B away within the bound and leaves A as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_works_in_two_organizations() {
    let stack = Stack::from_env();
    let (a, b) = tokio::join!(organization(&stack, "home"), organization(&stack, "guest"));
    let (victim_a, victim_b) = (
        prepare_victim(&stack, &a).await,
        prepare_victim(&stack, &b).await,
    );
    let person = a.admin.clone();
    let sub = claims(&person.id)["sub"].as_str().unwrap().to_owned();

    // B invites A's admin: an invitation to accept, no new account.
    let invited = stack
        .call(
            Some(&b.admin.id),
            "POST",
            "/users",
            Some(&json!({"email": a.admin_email, "role": "member"})),
        )
        .await;
    assert_eq!(
        (invited.status, invited.body["status"].as_str()),
        (201, Some("invited")),
        "{}",
        invited.body
    );
    assert_eq!(invited.body["user_id"], sub);
    let me = stack.call(Some(&person.id), "GET", "/me", None).await;
    assert_eq!(
        (
            &me.body["pending_invitations"],
            &me.body["other_organizations"]
        ),
        (&json!(1), &json!(0))
    );
    let pending = stack
        .call(Some(&person.id), "GET", "/me/invitations", None)
        .await;
    assert_eq!(
        pending.body["items"][0]["name"].as_str(),
        Some("guest Org"),
        "{}",
        pending.body
    );
    let accepted = stack
        .call(
            Some(&person.id),
            "POST",
            &format!("/me/invitations/{}", b.tenant_id),
            Some(&json!({"accept": true})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let orgs = stack
        .call(Some(&person.id), "GET", "/me/organizations", None)
        .await;
    let listed: BTreeSet<(String, String, bool)> = orgs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_owned(),
                o["role"].as_str().unwrap().to_owned(),
                o["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([
            (a.tenant_id.clone(), "admin".to_owned(), true),
            (b.tenant_id.clone(), "member".to_owned(), false),
        ])
    );

    // A refreshed token still carries A (the choice did not change), as admin.
    let in_a = stack.refresh(&person).await.unwrap();
    assert_eq!(
        (
            claims(&in_a.id)["tenant_id"].as_str(),
            claims(&in_a.id)["tenant_role"].as_str()
        ),
        (Some(a.tenant_id.as_str()), Some("admin"))
    );
    // As A's admin, nothing of B is reachable, although the person belongs to B.
    let before_b = snapshot(&stack, &b).await;
    run_attacks(
        &stack,
        &b,
        &tenant_route_attacks(&b, &victim_b),
        Some(&in_a.id),
        None,
    )
    .await;
    assert_eq!(snapshot(&stack, &b).await, before_b, "B changed");

    // Switch: the next token (a refresh) carries B, as member.
    let switched = stack
        .call(
            Some(&in_a.id),
            "PUT",
            "/me/active-organization",
            Some(&json!({"tenant_id": b.tenant_id})),
        )
        .await;
    assert_eq!(switched.status, 200, "{}", switched.body);
    let in_b = stack.refresh(&person).await.unwrap();
    let token = claims(&in_b.id);
    assert_eq!(
        (
            token["tenant_id"].as_str(),
            token["tenant_role"].as_str(),
            token["tenant_tier"].as_str()
        ),
        (Some(b.tenant_id.as_str()), Some("member"), Some("basic"))
    );
    let products = stack.call(Some(&in_b.id), "GET", "/products", None).await;
    assert_eq!(
        products.body["items"].as_array().unwrap().len(),
        2,
        "B's products"
    );
    // As B's member, nothing of A is reachable, although the person is A's admin.
    let before_a = snapshot(&stack, &a).await;
    run_attacks(
        &stack,
        &a,
        &tenant_route_attacks(&a, &victim_a),
        None,
        Some(&in_b.id),
    )
    .await;
    assert_eq!(snapshot(&stack, &a).await, before_a, "A changed");
    let me = stack.call(Some(&in_b.id), "GET", "/me", None).await;
    assert_eq!(
        (&me.body["tenant"]["id"], &me.body["other_organizations"]),
        (&json!(b.tenant_id), &json!(1))
    );

    // B removes the person: B's tokens are refused within the bound, A's still work, the
    // account stays, and the next token carries A again.
    let removed = stack
        .call(Some(&b.admin.id), "DELETE", &format!("/users/{sub}"), None)
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    all_refused_within_bound(
        &stack,
        "removed from one of two organizations",
        Instant::now(),
        &in_b.id,
        vec![
            ("GET", "/products".into(), None),
            ("GET", "/orders".into(), None),
            ("GET", "/users".into(), None),
        ],
        (401, "token-revoked"),
    )
    .await;
    let still_a = stack.call(Some(&in_a.id), "GET", "/products", None).await;
    assert_eq!(still_a.status, 200, "A is untouched: {}", still_a.body);
    let next = stack.refresh(&person).await.expect("the account stays");
    assert_eq!(
        claims(&next.id)["tenant_id"].as_str(),
        Some(a.tenant_id.as_str()),
        "the chosen organization is gone: the other is carried"
    );
}

/// Invitations through the API: only the invitee answers, once; a withdrawn one is gone; the
/// last admin cannot leave; a person creates a second organization and leaves the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_answered_by_their_invitee_and_people_leave() {
    let stack = Stack::from_env();
    let (a, b) = tokio::join!(
        organization(&stack, "inviting"),
        organization(&stack, "invited")
    );
    let invite = |email: String| {
        let stack = &stack;
        let token = a.admin.id.clone();
        async move {
            stack
                .call(
                    Some(&token),
                    "POST",
                    "/users",
                    Some(&json!({"email": email, "role": "member"})),
                )
                .await
        }
    };
    let answer = |token: String, accept: bool| {
        let stack = &stack;
        let path = format!("/me/invitations/{}", a.tenant_id);
        async move {
            stack
                .call(
                    Some(&token),
                    "POST",
                    &path,
                    Some(&json!({ "accept": accept })),
                )
                .await
        }
    };
    assert_eq!(invite(b.member_email.clone()).await.status, 201);
    // Not the invitee: nothing to answer.
    let stranger = answer(b.admin.id.clone(), true).await;
    assert_eq!(
        (stranger.status, stranger.body["code"].as_str()),
        (404, Some("not-found"))
    );
    assert_eq!(answer(b.member.id.clone(), true).await.status, 200);
    let twice = answer(b.member.id.clone(), true).await;
    assert_eq!(
        (twice.status, twice.body["code"].as_str()),
        (409, Some("already-member"))
    );
    // Withdrawn before an answer: gone.
    assert_eq!(invite(b.admin_email.clone()).await.status, 201);
    let bea = claims(&b.admin.id)["sub"].as_str().unwrap().to_owned();
    let withdrawn = stack
        .call(Some(&a.admin.id), "DELETE", &format!("/users/{bea}"), None)
        .await;
    assert_eq!(withdrawn.status, 204);
    let late = answer(b.admin.id.clone(), true).await;
    assert_eq!(
        (late.status, late.body["code"].as_str()),
        (404, Some("not-found"))
    );
    assert!(
        stack.sign_in(&b.admin_email, PASSWORD).await.is_ok(),
        "a withdrawn invitation leaves the invitee's account alone"
    );

    // The last admin cannot leave; after creating a second organization, leaving the first is
    // still refused (A needs an admin), and a member leaves freely.
    let leave_a = stack
        .call(
            Some(&a.admin.id),
            "DELETE",
            &format!("/me/organizations/{}", a.tenant_id),
            None,
        )
        .await;
    assert_eq!(
        (leave_a.status, leave_a.body["code"].as_str()),
        (409, Some("last-admin"))
    );
    let created = stack
        .call(
            Some(&a.member.id),
            "POST",
            "/me/organizations",
            Some(&json!({"name": "Side Project"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let side = created.body["id"].as_str().unwrap().to_owned();
    let left = stack
        .call(
            Some(&a.member.id),
            "DELETE",
            &format!("/me/organizations/{}", a.tenant_id),
            None,
        )
        .await;
    assert_eq!(left.status, 204, "{}", left.body);
    let next = stack
        .sign_in(&a.member_email, "Member-Chosen-Password-7")
        .await
        .unwrap();
    assert_eq!(
        (
            claims(&next.id)["tenant_id"].as_str(),
            claims(&next.id)["tenant_role"].as_str()
        ),
        (Some(side.as_str()), Some("admin"))
    );
}
