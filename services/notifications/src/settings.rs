//! How a deployment delivers messages: the provider (or the log, the embedded default), the
//! night window, the reminder and warning times, leases and back-off. From the environment
//! (`DeliveryArgs`, flattened into each binary's configuration) or built by a test.
use std::{sync::Arc, time::Duration};

use crate::{
    app::{
        channels::{HttpSender, LogSink, ProviderConfig, RetryPolicy, SmsSender},
        sending::{Channels, DeliverySettings},
    },
    domain::{night::NightWindow, rules::Timing},
};

/// Everything delivery needs.
#[derive(Clone)]
pub struct Delivery {
    pub channels: Channels,
    pub settings: DeliverySettings,
    pub timing: Timing,
    /// Approve the built-in templates at start (no provider reviews them: the log sink, tests).
    pub approve_built_in: bool,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("alimtalk", &self.channels.alimtalk.name())
            .field("sms", &self.channels.sms.as_ref().map(|c| c.name()))
            .field("settings", &self.settings)
            .field("timing", &self.timing)
            .field("approve_built_in", &self.approve_built_in)
            .finish()
    }
}

impl Delivery {
    /// Every message to the log, the built-in templates approved: the embedded default.
    pub fn log_sink() -> Self {
        Self {
            channels: Channels {
                alimtalk: Arc::new(LogSink),
                sms: None,
            },
            settings: DeliverySettings::default(),
            timing: Timing::default(),
            approve_built_in: true,
        }
    }

    /// 알림톡 and SMS through the provider at `config`; templates wait for the provider's
    /// review (`ReviewTemplate`) unless `approve_built_in`.
    pub fn provider(config: ProviderConfig) -> Result<Self, reqwest::Error> {
        Ok(Self {
            channels: Channels {
                alimtalk: Arc::new(HttpSender::new(config.clone())?),
                sms: Some(Arc::new(SmsSender::new(config)?)),
            },
            approve_built_in: false,
            ..Self::log_sink()
        })
    }
}

/// The delivery settings of a binary, from flags or the environment.
#[derive(clap::Args, Debug, Clone)]
pub struct DeliveryArgs {
    /// The business-messaging provider's base URL (알림톡 at `/v1/alimtalk/messages`, SMS at
    /// `/v1/sms/messages`); unset: every message goes to the log.
    #[arg(long, env = "YEYAK_MESSAGING_URL")]
    pub messaging_url: Option<String>,
    /// The provider's API key, sent as a bearer token.
    #[arg(long, env = "YEYAK_MESSAGING_API_KEY", hide_env_values = true)]
    pub messaging_api_key: Option<String>,
    /// How long one send may take.
    #[arg(long, env = "YEYAK_MESSAGING_TIMEOUT_SECS", default_value_t = 5)]
    pub messaging_timeout_secs: u64,
    /// Approve the built-in templates at start, without the provider's review.
    #[arg(long, env = "YEYAK_MESSAGING_APPROVE_BUILT_IN_TEMPLATES")]
    pub approve_built_in_templates: Option<bool>,
    /// The night window in KST, `HH:MM-HH:MM`: partners refusing night delivery get the
    /// messages due in it when it ends.
    #[arg(long, env = "YEYAK_NIGHT_WINDOW", default_value = "21:00-09:00")]
    pub night_window: NightWindow,
    /// The customer's reminder goes out this many KST days before the usage date…
    #[arg(long, env = "YEYAK_REMINDER_DAYS_BEFORE", default_value_t = 1)]
    pub reminder_days_before: u32,
    /// …at this KST time, `HH:MM`.
    #[arg(long, env = "YEYAK_REMINDER_AT", default_value = "10:00", value_parser = hour_minute)]
    pub reminder_at: (i8, i8),
    /// The partner is warned this many minutes before an unanswered request expires.
    #[arg(long, env = "YEYAK_EXPIRY_WARNING_MINUTES", default_value_t = 60)]
    pub expiry_warning_minutes: u32,
    /// Attempts of one message before it gives up (operations may retry it).
    #[arg(long, env = "YEYAK_MESSAGING_MAX_ATTEMPTS", default_value_t = 8)]
    pub max_attempts: u32,
}

fn hour_minute(s: &str) -> Result<(i8, i8), String> {
    let bad = || format!("a time is HH:MM in KST, e.g. 10:00: {s:?}");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    jiff::civil::Time::new(h, m, 0, 0).map_err(|_| bad())?;
    Ok((h, m))
}

impl DeliveryArgs {
    pub fn delivery(&self) -> Result<Delivery, reqwest::Error> {
        let mut delivery = match &self.messaging_url {
            Some(url) => {
                let mut config = ProviderConfig::new(url.clone())
                    .with_timeout(Duration::from_secs(self.messaging_timeout_secs.max(1)));
                if let Some(key) = &self.messaging_api_key {
                    config = config.with_api_key(key.clone());
                }
                Delivery::provider(config)?
            }
            None => Delivery::log_sink(),
        };
        if let Some(approve) = self.approve_built_in_templates {
            delivery.approve_built_in = approve;
        }
        delivery.settings.night = self.night_window;
        delivery.settings.retry = RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            ..RetryPolicy::default()
        };
        delivery.timing = Timing {
            reminder_days_before: self.reminder_days_before,
            reminder_at: self.reminder_at,
            expiry_warning_before_us: i64::from(self.expiry_warning_minutes) * 60_000_000,
            ..Timing::default()
        };
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        delivery: DeliveryArgs,
    }

    #[test]
    fn delivery_defaults_to_the_log_with_the_night_from_21_to_09_and_reminders_the_day_before_at_10()
     {
        let args = Cli::parse_from(["x"]).delivery;
        let d = args.delivery().unwrap();
        assert_eq!(d.channels.alimtalk.name(), "log");
        assert!(d.approve_built_in);
        assert_eq!(d.settings.night, NightWindow::default());
        assert_eq!(d.timing, Timing::default());
    }

    #[test]
    fn a_provider_url_sends_through_it_and_leaves_templates_to_its_review() {
        let args = Cli::parse_from([
            "x",
            "--messaging-url",
            "http://127.0.0.1:9",
            "--reminder-at",
            "18:30",
            "--night-window",
            "22:00-08:00",
        ])
        .delivery;
        let d = args.delivery().unwrap();
        assert_eq!(d.channels.alimtalk.name(), "alimtalk");
        assert!(d.channels.sms.is_some() && !d.approve_built_in);
        assert_eq!(d.timing.reminder_at, (18, 30));
        assert_eq!(d.settings.night.to_string(), "22:00-08:00");
        assert!(Cli::try_parse_from(["x", "--reminder-at", "25:00"]).is_err());
    }
}
