//! The delivery channels against a provider double: a real HTTP server on 127.0.0.1:0.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use yeyak_notifications::app::channels::{
    Channel, Fallback, HttpSender, LogSink, Outgoing, ProviderConfig, SendOutcome, SmsSender,
};
use yeyak_notifications::testing::{Endpoint, ProviderDouble};

const DEADLINE: Duration = Duration::from_secs(10);

fn message(key: &str, recipient: &str, text: &str) -> Outgoing {
    Outgoing {
        idempotency_key: key.to_string(),
        recipient: recipient.to_string(),
        template_code: "RESERVATION_REQUESTED".to_string(),
        variables: BTreeMap::from([("guest".to_string(), "김민수".to_string())]),
        text: text.to_string(),
    }
}

fn alimtalk(provider: &ProviderDouble) -> HttpSender {
    HttpSender::new(ProviderConfig::new(provider.base_url()).with_api_key("test-key"))
        .expect("client")
}

fn sms(provider: &ProviderDouble) -> SmsSender {
    SmsSender::new(ProviderConfig::new(provider.base_url())).expect("client")
}

fn accepted(outcome: &SendOutcome) -> &str {
    match outcome {
        SendOutcome::Accepted {
            provider_message_id,
        } => provider_message_id,
        other => panic!("expected an acceptance, got {other:?}"),
    }
}

#[tokio::test]
async fn a_resend_with_the_same_idempotency_key_has_no_second_effect_at_the_provider() {
    let provider = ProviderDouble::start().await;
    let channel = alimtalk(&provider);
    let m = message("msg-a/0", "partner-1", "예약이 신청되었습니다.");

    let first = channel.send(&m).await;
    let again = channel.send(&m).await;

    assert_eq!(accepted(&first), accepted(&again));
    assert_eq!(provider.requests(), 2);
    let received = provider.wait_for_accepted(1, DEADLINE).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].message_id, accepted(&first));
    assert_eq!(received[0].text, "예약이 신청되었습니다.");
    assert_eq!(received[0].variables, m.variables);
}

#[tokio::test]
async fn a_server_error_and_a_timeout_are_retryable_and_a_bad_request_is_not() {
    let provider = ProviderDouble::start().await;
    let channel = HttpSender::new(
        ProviderConfig::new(provider.base_url()).with_timeout(Duration::from_millis(300)),
    )
    .expect("client");

    for status in [500, 503, 429, 408] {
        provider.fail_next(1, status);
        let outcome = channel.send(&message("k-5xx", "p", "hi")).await;
        assert!(
            matches!(outcome, SendOutcome::Retryable(_)),
            "{status}: {outcome:?}"
        );
    }

    provider.delay_next(Duration::from_secs(5));
    let outcome = channel.send(&message("k-slow", "p", "hi")).await;
    assert!(matches!(outcome, SendOutcome::Retryable(_)), "{outcome:?}");

    for status in [400, 401, 404, 422] {
        provider.fail_next(1, status);
        let outcome = channel.send(&message("k-4xx", "p", "hi")).await;
        assert!(
            matches!(outcome, SendOutcome::Permanent(_)),
            "{status}: {outcome:?}"
        );
    }
    assert_eq!(provider.requests(), 9);
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_retryable() {
    // Nothing can listen on port 0 (a port freed for the test could be taken by another test's
    // double meanwhile).
    let channel = HttpSender::new(ProviderConfig::new("http://127.0.0.1:0")).unwrap();

    let outcome = channel.send(&message("k", "p", "hi")).await;

    assert!(matches!(outcome, SendOutcome::Retryable(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_send_that_timed_out_but_reached_the_provider_is_resent_harmlessly() {
    let provider = ProviderDouble::start().await;
    let channel = HttpSender::new(
        ProviderConfig::new(provider.base_url()).with_timeout(Duration::from_millis(300)),
    )
    .expect("client");
    let m = message("k-late", "p", "hi");

    provider.delay_next(Duration::from_secs(5));
    let timed_out = channel.send(&m).await;
    let resent = channel.send(&m).await;

    assert!(
        matches!(timed_out, SendOutcome::Retryable(_)),
        "{timed_out:?}"
    );
    let received = provider.wait_for_accepted(1, DEADLINE).await;
    assert_eq!(received.len(), 1);
    assert_eq!(accepted(&resent), received[0].message_id);
}

#[tokio::test]
async fn a_recipient_the_first_channel_refuses_gets_an_sms() {
    let provider = ProviderDouble::start().await;
    provider.refuse_recipient("010-1234-5678");
    let fallback = Fallback {
        first: Arc::new(alimtalk(&provider)),
        then: Arc::new(sms(&provider)),
    };

    let (refused_via, refused) = fallback
        .send_via(&message("k-1", "010-1234-5678", "hi"))
        .await;
    let (reached_via, reached) = fallback
        .send_via(&message("k-2", "010-9999-0000", "hi"))
        .await;

    assert_eq!(refused_via, "sms");
    assert_eq!(reached_via, "alimtalk");
    assert_eq!(fallback.name(), "alimtalk");
    let received = provider.wait_for_accepted(2, DEADLINE).await;
    assert_eq!(received[0].endpoint, Endpoint::Sms);
    assert_eq!(received[0].idempotency_key, "k-1:sms");
    assert_eq!(received[0].message_id, accepted(&refused));
    assert_eq!(received[1].endpoint, Endpoint::Alimtalk);
    assert_eq!(received[1].idempotency_key, "k-2");
    assert_eq!(received[1].message_id, accepted(&reached));
}

#[tokio::test]
async fn only_a_refusal_falls_back_to_the_second_channel() {
    let provider = ProviderDouble::start().await;
    let fallback = Fallback {
        first: Arc::new(alimtalk(&provider)),
        then: Arc::new(sms(&provider)),
    };

    provider.fail_next(1, 503);
    let (via, outcome) = fallback.send_via(&message("k", "p", "hi")).await;

    assert_eq!(via, "alimtalk");
    assert!(matches!(outcome, SendOutcome::Retryable(_)), "{outcome:?}");
    assert_eq!(provider.requests(), 1);
}

#[tokio::test]
async fn a_recipient_refused_by_sms_is_permanent() {
    let provider = ProviderDouble::start().await;
    provider.refuse_on(Endpoint::Sms, "010-0000-0000");

    let outcome = sms(&provider)
        .send(&message("k", "010-0000-0000", "hi"))
        .await;

    assert!(matches!(outcome, SendOutcome::Permanent(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_text_over_90_bytes_goes_as_lms() {
    let provider = ProviderDouble::start().await;
    let channel = sms(&provider);

    channel.send(&message("short", "p", &"가".repeat(45))).await;
    channel
        .send(&message("long", "p", &format!("{}!", "가".repeat(45))))
        .await;

    let received = provider.wait_for_accepted(2, DEADLINE).await;
    assert_eq!(received[0].kind.as_deref(), Some("SMS"));
    assert_eq!(received[1].kind.as_deref(), Some("LMS"));
}

#[tokio::test]
async fn a_text_too_long_for_its_channel_is_never_sent() {
    let provider = ProviderDouble::start().await;

    let alimtalk = alimtalk(&provider)
        .send(&message("a", "p", &"a".repeat(1_001)))
        .await;
    let sms = sms(&provider)
        .send(&message("s", "p", &"가".repeat(1_001)))
        .await;

    assert!(
        matches!(alimtalk, SendOutcome::Permanent(_)),
        "{alimtalk:?}"
    );
    assert!(matches!(sms, SendOutcome::Permanent(_)), "{sms:?}");
    assert_eq!(provider.requests(), 0);
}

#[tokio::test]
async fn the_api_key_and_the_idempotency_key_are_sent_as_headers() {
    let provider = ProviderDouble::start().await;

    alimtalk(&provider).send(&message("key-1", "p", "hi")).await;
    sms(&provider).send(&message("key-2", "p", "hi")).await;

    let requests = provider.raw_requests();
    assert_eq!(requests[0].header("Authorization"), Some("Bearer test-key"));
    assert_eq!(requests[0].header("Idempotency-Key"), Some("key-1"));
    assert_eq!(requests[1].header("Authorization"), None);
    assert_eq!(requests[1].header("Idempotency-Key"), Some("key-2"));
    let body: serde_json::Value = serde_json::from_str(&requests[0].body).expect("JSON");
    assert_eq!(
        body,
        serde_json::json!({
            "template_code": "RESERVATION_REQUESTED",
            "recipient": "p",
            "variables": {"guest": "김민수"},
            "text": "hi",
        })
    );
}

#[tokio::test]
async fn a_provider_that_answers_delivered_reports_a_delivery() {
    let provider = ProviderDouble::start().await;
    provider.answer_delivered();

    let outcome = alimtalk(&provider).send(&message("k", "p", "hi")).await;

    assert_eq!(outcome, SendOutcome::Delivered);
}

#[tokio::test]
async fn the_log_sink_delivers_every_message() {
    let outcome = LogSink.send(&message("k", "p", "hi")).await;

    assert_eq!(LogSink.name(), "log");
    assert_eq!(outcome, SendOutcome::Delivered);
}
