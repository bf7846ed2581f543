//! Creating the topics yeyak needs (the broker may not create them on its own).
use std::time::Duration;

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::KafkaError,
    types::RDKafkaErrorCode,
};

use crate::KafkaConfig;

/// Creates each topic (and its `.dlq`) that does not exist yet, with the configured partitions
/// and replication. Topics that exist are left as they are.
pub async fn ensure(config: &KafkaConfig, topics: &[String]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = config.client("yeyak-admin").create()?;
    let names: Vec<String> = topics
        .iter()
        .flat_map(|t| [t.clone(), format!("{t}.dlq")])
        .collect();
    let new: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| {
            NewTopic::new(
                name,
                config.partitions,
                TopicReplication::Fixed(config.replication),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new, &options).await? {
        match result {
            Ok(name) => {
                tracing::info!(topic = %name, partitions = config.partitions, "topic created")
            }
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(topic = %name, "topic exists")
            }
            Err((name, code)) => {
                tracing::error!(topic = %name, ?code, "topic could not be created");
                return Err(KafkaError::AdminOp(code));
            }
        }
    }
    Ok(())
}
