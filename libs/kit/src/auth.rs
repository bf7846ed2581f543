//! Authentication (bearer JWT, HS256) and authorisation by role, per RPC.
//!
//! Every service declares a [`Policy`]: for each RPC, the roles that may call it. The
//! [`Authenticated`] wrapper enforces it before the handler runs (an RPC missing from the policy is
//! refused), and hands the handler the verified [`Caller`] for resource-level checks (which partner,
//! which places, whose reservation).
use std::{collections::HashSet, convert::Infallible, sync::Arc};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::{
    Code, Status,
    body::Body,
    codegen::{BoxFuture, Context, Poll, Service, http},
    server::NamedService,
};
use uuid::Uuid;

use crate::status::status;

/// Issuer of every yeyak token.
pub const ISSUER: &str = "yeyak";

/// What a caller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A customer (예약자): sees and acts on their own reservations only.
    Customer,
    /// A partner's operator: scoped to one partner and a set of its places.
    PartnerOperator,
    /// Platform operations staff (reviewers, onboarding).
    PlatformOps,
    /// Another yeyak service or a trusted gateway job.
    InternalService,
}

/// The places an operator was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceScope {
    All,
    Only(HashSet<Uuid>),
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Token subject: customer id, operator id, staff id or service name.
    pub subject: String,
    pub role: Role,
    /// The operator's partner.
    pub partner_id: Option<Uuid>,
    pub places: PlaceScope,
}

impl Caller {
    /// The actor recorded on events this caller causes.
    pub fn actor(&self) -> String {
        let kind = match self.role {
            Role::Customer => "customer",
            Role::PartnerOperator => "operator",
            Role::PlatformOps => "ops",
            Role::InternalService => "service",
        };
        format!("{kind}:{}", self.subject)
    }

    /// The verified caller of a command request, its origin (actor, request id, what was asked)
    /// and its request id (`request_id_field`, a UUID).
    pub fn command_of<M: prost::Message>(
        request: &tonic::Request<M>,
        request_id_field: &str,
    ) -> Result<(Caller, crate::command::Origin, uuid::Uuid), Status> {
        let caller = Caller::of(request)?;
        let request_id = crate::status::request_id(request_id_field)?;
        let origin =
            crate::command::Origin::for_request(caller.actor(), request_id, request.get_ref());
        Ok((caller, origin, request_id))
    }

    /// The verified caller of a request that passed [`Authenticated`].
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| {
                status(
                    Code::Unauthenticated,
                    "UNAUTHENTICATED",
                    "no verified caller",
                )
            })
    }
}

/// The JWT claims yeyak issues and accepts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<Uuid>,
    /// Granted places: `["*"]` for all, or place ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<String>,
    pub iss: String,
    pub exp: i64,
    pub iat: i64,
    /// Not valid before this second, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

impl Claims {
    /// Claims valid for `ttl_secs` from now.
    pub fn new(sub: impl Into<String>, role: Role, ttl_secs: i64) -> Self {
        Self::issued_at(jiff::Timestamp::now().as_second(), sub, role, ttl_secs)
    }

    /// Claims issued at `now_secs` (Unix seconds), valid for `ttl_secs`.
    pub fn issued_at(now_secs: i64, sub: impl Into<String>, role: Role, ttl_secs: i64) -> Self {
        Self {
            sub: sub.into(),
            role,
            partner_id: None,
            places: Vec::new(),
            iss: ISSUER.to_string(),
            exp: now_secs + ttl_secs,
            iat: now_secs,
            nbf: None,
        }
    }

    /// An operator of `partner_id`, granted `places` (`None` = all places).
    pub fn operator(
        sub: impl Into<String>,
        partner_id: Uuid,
        places: Option<Vec<Uuid>>,
        ttl_secs: i64,
    ) -> Self {
        let mut claims = Self::new(sub, Role::PartnerOperator, ttl_secs);
        claims.partner_id = Some(partner_id);
        claims.places = match places {
            None => vec!["*".to_string()],
            Some(ids) => ids.iter().map(Uuid::to_string).collect(),
        };
        claims
    }
}

/// How far a token's times may disagree with this service's clock, in seconds.
pub const LEEWAY_SECS: i64 = 30;
/// The longest lifetime (`exp − iat`) a token may have by default: 24 hours.
pub const DEFAULT_MAX_LIFETIME_SECS: i64 = 24 * 3600;

/// Verifies and issues tokens with one HS256 secret.
pub struct Authenticator {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
    /// Token times are judged by this clock (the system's; a test's controlled one).
    clock: crate::clock::SharedClock,
    max_lifetime_secs: i64,
}

impl Authenticator {
    /// Refuses secrets shorter than 32 bytes. Judges tokens by the system clock and accepts
    /// lifetimes up to [`DEFAULT_MAX_LIFETIME_SECS`].
    pub fn new(secret: &str) -> Result<Self, AuthError> {
        if secret.len() < 32 {
            return Err(AuthError::WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        // Times are checked below against the injected clock, at their boundaries.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Ok(Self {
            decoding: DecodingKey::from_secret(secret.as_bytes()).map_err(AuthError::Token)?,
            encoding: EncodingKey::from_secret(secret.as_bytes()).map_err(AuthError::Token)?,
            validation,
            clock: crate::clock::system(),
            max_lifetime_secs: DEFAULT_MAX_LIFETIME_SECS,
        })
    }

    /// Judges token times by `clock`.
    pub fn with_clock(mut self, clock: crate::clock::SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Refuses tokens whose lifetime (`exp − iat`) is longer than `secs`.
    pub fn with_max_lifetime(mut self, secs: i64) -> Self {
        self.max_lifetime_secs = secs.max(1);
        self
    }

    /// A token's times, at this service's clock: not expired, not before its `nbf`, not issued
    /// in the future, and not living longer than allowed.
    fn check_times(&self, claims: &Claims) -> Result<(), AuthError> {
        let now = self.clock.now_us().div_euclid(1_000_000);
        if now > claims.exp + LEEWAY_SECS {
            return Err(AuthError::Claims("the token has expired"));
        }
        if claims.nbf.is_some_and(|nbf| now + LEEWAY_SECS < nbf) {
            return Err(AuthError::Claims("the token is not valid yet (nbf)"));
        }
        if now + LEEWAY_SECS < claims.iat {
            return Err(AuthError::Claims(
                "the token was issued in the future (iat)",
            ));
        }
        if claims.exp.saturating_sub(claims.iat) > self.max_lifetime_secs {
            return Err(AuthError::Claims(
                "the token lives longer than this service allows (exp - iat)",
            ));
        }
        Ok(())
    }

    /// Signs `claims`.
    pub fn issue(&self, claims: &Claims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(AuthError::Token)
    }

    /// Verifies a token and the consistency of its claims.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(AuthError::Token)?
            .claims;
        self.check_times(&claims)?;
        let valid_subject = !claims.sub.is_empty()
            && claims.sub.len() <= 128
            && claims
                .sub
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c));
        if !valid_subject {
            return Err(AuthError::Claims(
                "sub must be 1-128 characters of [A-Za-z0-9-_.:@]",
            ));
        }
        let places = match claims.role {
            Role::PartnerOperator => {
                if claims.partner_id.is_none() {
                    return Err(AuthError::Claims("an operator token needs partner_id"));
                }
                if claims.places.iter().any(|p| p == "*") {
                    PlaceScope::All
                } else {
                    let ids = claims
                        .places
                        .iter()
                        .map(|p| Uuid::parse_str(p))
                        .collect::<Result<HashSet<_>, _>>()
                        .map_err(|_| AuthError::Claims("places must be \"*\" or place ids"))?;
                    PlaceScope::Only(ids)
                }
            }
            _ if claims.partner_id.is_some() => {
                return Err(AuthError::Claims("only operators carry partner_id"));
            }
            _ => PlaceScope::All,
        };
        Ok(Caller {
            subject: claims.sub,
            role: claims.role,
            partner_id: claims.partner_id,
            places,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the JWT secret must be at least 32 bytes")]
    WeakSecret,
    #[error("invalid token: {0}")]
    Token(jsonwebtoken::errors::Error),
    #[error("invalid claims: {0}")]
    Claims(&'static str),
}

/// Who may call each RPC of one gRPC service.
#[derive(Debug)]
pub struct Policy {
    /// Fully qualified service name, e.g. `yeyak.catalog.v1.CatalogService`.
    pub service: &'static str,
    /// `(method, roles allowed)`. A method not listed is refused to everyone.
    pub rules: &'static [(&'static str, &'static [Role])],
}

impl Policy {
    /// The roles allowed to call `method`, if the policy lists it.
    pub fn roles(&self, method: &str) -> Option<&'static [Role]> {
        self.rules
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, roles)| *roles)
    }

    /// Methods of the service (read from a descriptor set) that the policy does not list.
    pub fn unlisted_methods(&self, descriptor_set: &[u8]) -> Vec<String> {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(descriptor_set).expect("descriptor set");
        let mut missing = Vec::new();
        for file in &set.file {
            for service in &file.service {
                let name = format!("{}.{}", file.package(), service.name());
                if name != self.service {
                    continue;
                }
                for method in &service.method {
                    if self.roles(method.name()).is_none() {
                        missing.push(method.name().to_string());
                    }
                }
            }
        }
        missing
    }

    /// Whether the descriptor set contains this service at all.
    pub fn service_exists(&self, descriptor_set: &[u8]) -> bool {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(descriptor_set).expect("descriptor set");
        set.file.iter().any(|f| {
            f.service
                .iter()
                .any(|s| format!("{}.{}", f.package(), s.name()) == self.service)
        })
    }
}

/// Decides a request's caller from its `authorization` header and the policy.
pub fn authorize(
    auth: &Authenticator,
    policy: &Policy,
    path: &str,
    headers: &http::HeaderMap,
) -> Result<Caller, Status> {
    let method = path.rsplit('/').next().unwrap_or_default();
    let Some(allowed) = policy.roles(method) else {
        return Err(status(
            Code::PermissionDenied,
            "RPC_NOT_IN_POLICY",
            format!("{method} is not open to any caller"),
        ));
    };
    let header = headers.get(http::header::AUTHORIZATION).ok_or_else(|| {
        status(
            Code::Unauthenticated,
            "MISSING_TOKEN",
            "send `authorization: Bearer <jwt>`",
        )
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| {
            status(
                Code::Unauthenticated,
                "MALFORMED_TOKEN",
                "the authorization header must be `Bearer <jwt>`",
            )
        })?;
    let caller = auth
        .verify(token.trim())
        .map_err(|e| status(Code::Unauthenticated, "INVALID_TOKEN", e.to_string()))?;
    if !allowed.contains(&caller.role) {
        return Err(status(
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            format!("{method} is not open to the {:?} role", caller.role),
        ));
    }
    Ok(caller)
}

/// A gRPC service behind authentication and its role policy.
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    auth: Arc<Authenticator>,
    policy: &'static Policy,
}

impl<S> Authenticated<S> {
    pub fn new(inner: S, auth: Arc<Authenticator>, policy: &'static Policy) -> Self {
        Self {
            inner,
            auth,
            policy,
        }
    }
}

impl<S> Service<http::Request<Body>> for Authenticated<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        match authorize(
            &self.auth,
            self.policy,
            request.uri().path(),
            request.headers(),
        ) {
            Ok(caller) => {
                tracing::debug!(actor = %caller.actor(), path = %request.uri().path(), "authorised");
                request.extensions_mut().insert(caller);
                Box::pin(self.inner.call(request))
            }
            Err(denied) => {
                tracing::info!(path = %request.uri().path(), code = ?denied.code(), reason = %denied.message(), "refused");
                Box::pin(async move { Ok(denied.into_http()) })
            }
        }
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    static POLICY: Policy = Policy {
        service: "yeyak.test.v1.Test",
        rules: &[
            ("Book", &[Role::Customer]),
            ("Manage", &[Role::PartnerOperator, Role::PlatformOps]),
        ],
    };

    fn headers(token: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        h
    }

    fn reason(r: Result<Caller, Status>) -> String {
        crate::status::reason(&r.unwrap_err()).unwrap()
    }

    #[test]
    fn a_valid_token_with_an_allowed_role_passes() {
        let auth = Authenticator::new(SECRET).unwrap();
        let token = auth.issue(&Claims::new("c-1", Role::Customer, 60)).unwrap();
        let caller =
            authorize(&auth, &POLICY, "/yeyak.test.v1.Test/Book", &headers(&token)).unwrap();
        assert_eq!(caller.role, Role::Customer);
        assert_eq!(caller.actor(), "customer:c-1");
    }

    #[test]
    fn missing_forged_expired_and_wrong_role_tokens_are_refused() {
        let auth = Authenticator::new(SECRET).unwrap();
        assert_eq!(
            reason(authorize(
                &auth,
                &POLICY,
                "/x/Book",
                &http::HeaderMap::new()
            )),
            "MISSING_TOKEN"
        );
        let other = Authenticator::new("another-secret-another-secret-0000").unwrap();
        let forged = other
            .issue(&Claims::new("c-1", Role::Customer, 60))
            .unwrap();
        assert_eq!(
            reason(authorize(&auth, &POLICY, "/x/Book", &headers(&forged))),
            "INVALID_TOKEN"
        );
        let expired = auth
            .issue(&Claims::new("c-1", Role::Customer, -3600))
            .unwrap();
        assert_eq!(
            reason(authorize(&auth, &POLICY, "/x/Book", &headers(&expired))),
            "INVALID_TOKEN"
        );
        let customer = auth.issue(&Claims::new("c-1", Role::Customer, 60)).unwrap();
        assert_eq!(
            reason(authorize(&auth, &POLICY, "/x/Manage", &headers(&customer))),
            "ROLE_NOT_ALLOWED"
        );
        assert_eq!(
            reason(authorize(&auth, &POLICY, "/x/Unknown", &headers(&customer))),
            "RPC_NOT_IN_POLICY"
        );
    }

    #[test]
    fn an_operator_token_names_its_partner_and_its_places() {
        let auth = Authenticator::new(SECRET).unwrap();
        let (partner, place) = (Uuid::new_v4(), Uuid::new_v4());
        let token = auth
            .issue(&Claims::operator("op-1", partner, Some(vec![place]), 60))
            .unwrap();
        let op = auth.verify(&token).unwrap();
        assert_eq!(op.partner_id, Some(partner));
        assert_eq!(op.places, PlaceScope::Only([place].into()));
        let all = auth
            .verify(
                &auth
                    .issue(&Claims::operator("op-2", partner, None, 60))
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(all.places, PlaceScope::All);
        let mut bad = Claims::new("op-3", Role::PartnerOperator, 60);
        bad.places = vec!["*".into()];
        assert!(
            auth.verify(&auth.issue(&bad).unwrap()).is_err(),
            "an operator needs a partner"
        );
    }

    /// A verifier whose clock reads `NOW` (seconds), and a token issued at `iat` with `ttl`.
    const NOW: i64 = 1_800_000_000;

    fn at_now() -> (Authenticator, Arc<crate::clock::ControlledClock>) {
        let clock = crate::clock::ControlledClock::at(NOW * 1_000_000);
        let auth = Authenticator::new(SECRET)
            .unwrap()
            .with_clock(clock.clone())
            .with_max_lifetime(3600);
        (auth, clock)
    }

    fn verdict(auth: &Authenticator, claims: &Claims) -> Result<(), String> {
        auth.verify(&auth.issue(claims).unwrap())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_token_expires_at_its_exp_plus_the_leeway() {
        let (auth, clock) = at_now();
        let claims = Claims::issued_at(NOW - 600, "c-1", Role::Customer, 600);
        clock.set((NOW + LEEWAY_SECS) * 1_000_000);
        assert_eq!(verdict(&auth, &claims), Ok(()), "at exp + leeway");
        clock.set((NOW + LEEWAY_SECS + 1) * 1_000_000);
        assert!(verdict(&auth, &claims).unwrap_err().contains("expired"));
    }

    #[test]
    fn a_token_before_its_nbf_or_issued_in_the_future_is_refused() {
        let (auth, _) = at_now();
        let mut early = Claims::issued_at(NOW, "c-1", Role::Customer, 600);
        early.nbf = Some(NOW + LEEWAY_SECS);
        assert_eq!(verdict(&auth, &early), Ok(()), "nbf at now + leeway");
        early.nbf = Some(NOW + LEEWAY_SECS + 1);
        assert!(verdict(&auth, &early).unwrap_err().contains("nbf"));
        let future = Claims::issued_at(NOW + LEEWAY_SECS, "c-1", Role::Customer, 600);
        assert_eq!(verdict(&auth, &future), Ok(()), "iat at now + leeway");
        let future = Claims::issued_at(NOW + LEEWAY_SECS + 1, "c-1", Role::Customer, 600);
        assert!(verdict(&auth, &future).unwrap_err().contains("iat"));
    }

    #[test]
    fn a_token_may_not_live_longer_than_the_service_allows() {
        let (auth, _) = at_now();
        assert_eq!(
            verdict(&auth, &Claims::issued_at(NOW, "c-1", Role::Customer, 3600)),
            Ok(())
        );
        let long = Claims::issued_at(NOW, "c-1", Role::Customer, 3601);
        assert!(verdict(&auth, &long).unwrap_err().contains("longer"));
        let year_9999 = Claims {
            exp: 253_402_300_799,
            ..Claims::issued_at(NOW, "c-1", Role::Customer, 60)
        };
        assert!(verdict(&auth, &year_9999).unwrap_err().contains("longer"));
    }

    #[test]
    fn weak_secrets_are_refused() {
        assert!(matches!(
            Authenticator::new("short"),
            Err(AuthError::WeakSecret)
        ));
    }
}
