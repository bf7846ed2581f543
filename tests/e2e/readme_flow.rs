//! The README's "Try the booking flow" block, run as written against a fresh system: every
//! `grpcurl` call with its body (the JSON a reader pastes, variables and `$(uuidgen)`
//! substituted as the shell would), every `VAR=$(… | jq -r PATH)` capture, and
//! `make -s token ROLE=operator PARTNER=…`. Calls go through server reflection's descriptors and
//! protobuf JSON, as grpcurl's do, so a body the server would refuse fails here first.
use std::{collections::HashMap, time::Duration};

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};
use yeyak_e2e::{Harness, Storage, channel};
use yeyak_kit::auth::{Claims, Role};

/// Protobuf on the wire, a message known only by its descriptor.
struct DynamicCodec(MessageDescriptor);

struct DynamicEncoder;

struct DynamicDecoder(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.0.clone())
    }
}

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::Message::encode(&item, dst).map_err(|e| Status::internal(e.to_string()))
    }
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

/// One step of the block.
#[derive(Debug)]
enum Step {
    /// `grpcurl … list`: nothing to check here (the reflection tests do).
    List,
    /// A call: the token's variable, the port, `service/method`, the body, and the variable a
    /// `jq -r` path is captured into.
    Call {
        token: String,
        port: u16,
        method: String,
        body: String,
        capture: Option<(String, String)>,
    },
    /// `VAR=$(make -s token ROLE=operator PARTNER=$P)`.
    OperatorToken { var: String, partner: String },
}

/// The block between the README's markers.
fn block() -> String {
    let readme = include_str!("../../README.md");
    let (_, rest) = readme
        .split_once("<!-- booking flow -->")
        .expect("the README's booking flow");
    let (block, _) = rest
        .split_once("<!-- end of booking flow -->")
        .expect("its end");
    block
        .trim()
        .trim_start_matches("```sh")
        .trim_end_matches("```")
        .to_string()
}

/// The value after `flag` in a grpcurl command line.
fn after<'a>(words: &'a [String], flag: &str) -> Option<&'a str> {
    let at = words.iter().position(|w| w == flag)?;
    words.get(at + 1).map(String::as_str)
}

/// Shell words, double quotes grouping.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The steps, in order.
fn steps(block: &str) -> Vec<Step> {
    let mut lines = block.lines().peekable();
    let mut out = Vec::new();
    while let Some(first) = lines.next() {
        let mut line = first
            .split(" #")
            .next()
            .unwrap_or("")
            .trim_end()
            .to_string();
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        while line.ends_with('\\') {
            line.pop();
            line.push(' ');
            line.push_str(lines.next().expect("a continued line").trim());
        }
        // `VAR=<…>`: what `make run` printed (the test has those tokens).
        if line.contains("=<") {
            continue;
        }
        if let Some(rest) = line.strip_suffix(')')
            && let Some((var, make)) = rest.split_once("=$(make -s token ")
        {
            let partner = make
                .split_whitespace()
                .find_map(|w| w.strip_prefix("PARTNER="))
                .expect("the partner")
                .to_string();
            out.push(Step::OperatorToken {
                var: var.trim().to_string(),
                partner,
            });
            continue;
        }
        let (capture_var, command) = match line.split_once("=$(") {
            Some((var, command)) => (Some(var.trim().to_string()), command.to_string()),
            None => (None, line.clone()),
        };
        let (command, jq) = match command.split_once(" | jq -r ") {
            Some((command, jq)) => (
                command.to_string(),
                Some(jq.trim().trim_matches('\'').to_string()),
            ),
            None => (command, None),
        };
        let words: Vec<String> = words(&command)
            .into_iter()
            .filter(|w| w != "<<EOF")
            .collect();
        assert_eq!(words[0], "grpcurl", "a step the test does not know: {line}");
        if words.last().is_some_and(|w| w == "list") {
            out.push(Step::List);
            continue;
        }
        let mut body = String::new();
        if command.contains("<<EOF") {
            for l in lines.by_ref() {
                if l == "EOF" {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            if capture_var.is_some() {
                assert_eq!(lines.next(), Some(")"), "a capture closes after its body");
            }
        }
        let token = after(&words, "-H")
            .and_then(|h| h.strip_prefix("authorization: Bearer $"))
            .expect("a bearer token")
            .to_string();
        let address = words
            .iter()
            .find(|w| w.starts_with("127.0.0.1:"))
            .expect("an address");
        let port = address["127.0.0.1:".len()..].parse().expect("a port");
        let method = words.last().expect("a method").clone();
        out.push(Step::Call {
            token,
            port,
            method,
            body,
            capture: capture_var.zip(jq),
        });
    }
    out
}

/// `$(date -u -d '+N days' +FORMAT)` at the front of `rest`: the date it prints (from `now_us`)
/// and what follows the command.
fn date_command(rest: &str, now_us: i64) -> Option<(String, &str)> {
    let inner = rest.strip_prefix("(date -u -d '+")?;
    let (days, inner) = inner.split_once(" days' +")?;
    let (format, after) = inner.split_once(')')?;
    let days: i64 = days.parse().ok()?;
    let at = jiff::Timestamp::from_microsecond(now_us).ok()?
        + jiff::SignedDuration::from_hours(24 * days);
    Some((at.strftime(format).to_string(), after))
}

/// `text` with `$(uuidgen)`, `$(date …)` and every `$VAR` replaced, as the shell's heredoc would.
fn expand(text: &str, vars: &HashMap<String, String>, now_us: i64) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix("(uuidgen)") {
            out.push_str(&uuid::Uuid::new_v4().to_string());
            rest = after;
            continue;
        }
        if let Some((date, after)) = date_command(rest, now_us) {
            out.push_str(&date);
            rest = after;
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        let value = vars
            .get(&name)
            .unwrap_or_else(|| panic!("${name} is used before it is set"));
        out.push_str(value);
        rest = &rest[name.len()..];
    }
    out.push_str(rest);
    out
}

/// `jq -r PATH` of a simple path (`.a.b`, `.a[0].b`).
fn jq(value: &serde_json::Value, path: &str) -> String {
    let mut at = value;
    for part in path.trim_start_matches('.').split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, index)) => (name, index.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        at = &at[name];
        if let Some(i) = index {
            at = &at[i];
        }
    }
    at.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{path} is not a string in {value}"))
}

/// Statuses a step answers while another service has not yet learned an earlier fact.
fn not_known_yet(status: &Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::NotFound
            | tonic::Code::FailedPrecondition
            | tonic::Code::PermissionDenied
            | tonic::Code::Unavailable
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_booking_flow_runs_as_written() {
    let h = Harness::start(Storage::EmbeddedSqlite)
        .await
        .expect("start");
    let pool = DescriptorPool::decode(yeyak_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let mut vars = HashMap::from([
        (
            "OPS".to_string(),
            h.token(&Claims::new("ops-1", Role::PlatformOps, 600)),
        ),
        (
            "CUSTOMER".to_string(),
            h.token(&Claims::new("customer-1", Role::Customer, 600)),
        ),
    ]);
    let steps = steps(&block());
    let calls = steps
        .iter()
        .filter(|s| matches!(s, Step::Call { .. }))
        .count();
    assert!(
        calls >= 18,
        "the whole flow is in the block ({calls} calls)"
    );
    for step in steps {
        let (token, port, method, body, capture) = match step {
            Step::List => continue,
            Step::OperatorToken { var, partner } => {
                let partner = uuid::Uuid::parse_str(&expand(&partner, &vars, h.now_us()))
                    .expect("a partner id");
                let token = h.token(&Claims::operator("operator-1", partner, None, 600));
                vars.insert(var, token);
                continue;
            }
            Step::Call {
                token,
                port,
                method,
                body,
                capture,
            } => (token, port, method, body, capture),
        };
        let address = match port {
            50051 => h.addresses.catalog,
            50052 => h.addresses.reservations,
            50053 => h.addresses.notifications,
            50054 => h.addresses.settlement,
            other => panic!("no service on port {other}"),
        };
        let (service, name) = method.rsplit_once('/').expect("service/method");
        let descriptor = pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == name))
            .unwrap_or_else(|| panic!("{method} is not in the published schema"));
        let body = expand(&body, &vars, h.now_us());
        let request = {
            let mut de = serde_json::Deserializer::from_str(&body);
            DynamicMessage::deserialize(descriptor.input(), &mut de)
                .unwrap_or_else(|e| panic!("{method}: the body is not its request: {e}\n{body}"))
        };
        let bearer = format!("Bearer {}", vars[&token]);
        let started = std::time::Instant::now();
        let response = loop {
            let mut grpc = tonic::client::Grpc::new(channel(address).await);
            grpc.ready().await.expect("ready");
            let mut call = tonic::Request::new(request.clone());
            call.metadata_mut()
                .insert("authorization", bearer.parse().expect("ascii"));
            let path = format!("/{method}").parse().expect("a path");
            match grpc
                .unary(call, path, DynamicCodec(descriptor.output()))
                .await
            {
                Ok(response) => break response.into_inner(),
                Err(s) if not_known_yet(&s) && started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(s) => panic!("{method} was refused: {s:?}\n{body}"),
            }
        };
        if let Some((var, path)) = capture {
            let json = serde_json::to_value(&response).expect("JSON");
            vars.insert(var, jq(&json, &path));
        }
    }
    assert!(vars.contains_key("RESERVATION"), "the flow booked");
    every_type_written_is_in_the_topic_contract(&h).await;
    h.stop().await;
}

/// What the flow wrote, log by log, is each in its topic's contract (`yeyak schema`): no event
/// reaches a topic unlisted, public or marked internal.
async fn every_type_written_is_in_the_topic_contract(h: &Harness) {
    let d = h.databases.clone().expect("in process");
    for (service, url) in [
        ("catalog", d.catalog),
        ("reservations", d.reservations),
        ("notifications", d.notifications),
        ("settlement", d.settlement),
    ] {
        let topic = yeyak::schema::TOPICS
            .iter()
            .find(|t| t.service == service)
            .expect("a topic");
        let listed: std::collections::BTreeSet<String> = topic.types().map(|(n, _)| n).collect();
        let log = yeyak_eventlog::connect(&url).await.expect("the log");
        let mut written = std::collections::BTreeSet::new();
        yeyak::admin::each_event(&*log, |e| {
            written.insert(e.event_type.clone());
        })
        .await
        .expect("read");
        let unlisted: Vec<_> = written.difference(&listed).collect();
        assert!(
            unlisted.is_empty(),
            "{service} wrote types its topic's contract lacks: {unlisted:?}"
        );
    }
}
