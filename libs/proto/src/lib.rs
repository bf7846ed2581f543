//! Generated code for every yeyak gRPC API and event schema (`proto/`).
//!
//! Invariant: this crate holds wire types only; no service logic lives here.

/// Encoded `FileDescriptorSet` of all yeyak protos, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("yeyak_descriptor");

pub mod events {
    pub mod v1 {
        tonic::include_proto!("yeyak.events.v1");
    }
}

pub mod admin {
    pub mod v1 {
        tonic::include_proto!("yeyak.admin.v1");
    }
}

pub mod access {
    pub mod v1 {
        tonic::include_proto!("yeyak.access.v1");
    }
}

pub mod catalog {
    pub mod v1 {
        tonic::include_proto!("yeyak.catalog.v1");
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("yeyak.catalog.events.v1");
        }
    }
}

pub mod reservations {
    pub mod v1 {
        tonic::include_proto!("yeyak.reservations.v1");
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("yeyak.reservations.events.v1");
        }
    }
}

pub mod notifications {
    pub mod v1 {
        tonic::include_proto!("yeyak.notifications.v1");
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("yeyak.notifications.events.v1");
        }
    }
}

pub mod settlement {
    pub mod v1 {
        tonic::include_proto!("yeyak.settlement.v1");
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("yeyak.settlement.events.v1");
        }
    }
}

/// Conversions between `prost_types::Timestamp` and `jiff`-free epoch microseconds.
pub mod time {
    /// Microseconds since the Unix epoch to a protobuf timestamp.
    pub fn from_micros(us: i64) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: us.div_euclid(1_000_000),
            nanos: (us.rem_euclid(1_000_000) * 1_000) as i32,
        }
    }

    /// A protobuf timestamp to microseconds since the Unix epoch; `None` when out of range.
    pub fn to_micros(ts: &prost_types::Timestamp) -> Option<i64> {
        if !(0..1_000_000_000).contains(&ts.nanos) {
            return None;
        }
        ts.seconds
            .checked_mul(1_000_000)?
            .checked_add(i64::from(ts.nanos / 1_000))
    }
}
