//! The simulator's regions, versions and settings as the resource's, and back.
//!
//! The simulator has types of its own (a fake of SendGrid that shared the client's types would
//! share its mistakes), so whatever drives both (tests, the benchmark, the dev-cluster example)
//! converts here, and can compare what the simulator stores with a spec's settings directly.

use super::{Region, TlsSettings, TlsVersion};
use crate::simulator as sim;

impl From<sim::Region> for Region {
    fn from(region: sim::Region) -> Region {
        match region {
            sim::Region::Global => Region::Global,
            sim::Region::Eu => Region::Eu,
        }
    }
}

impl From<Region> for sim::Region {
    fn from(region: Region) -> sim::Region {
        match region {
            Region::Global => sim::Region::Global,
            Region::Eu => sim::Region::Eu,
        }
    }
}

impl From<sim::TlsVersion> for TlsVersion {
    fn from(version: sim::TlsVersion) -> TlsVersion {
        match version {
            sim::TlsVersion::V1_1 => TlsVersion::V1_1,
            sim::TlsVersion::V1_2 => TlsVersion::V1_2,
            sim::TlsVersion::V1_3 => TlsVersion::V1_3,
        }
    }
}

impl From<TlsVersion> for sim::TlsVersion {
    fn from(version: TlsVersion) -> sim::TlsVersion {
        match version {
            TlsVersion::V1_1 => sim::TlsVersion::V1_1,
            TlsVersion::V1_2 => sim::TlsVersion::V1_2,
            TlsVersion::V1_3 => sim::TlsVersion::V1_3,
        }
    }
}

impl From<sim::TlsSettings> for TlsSettings {
    fn from(settings: sim::TlsSettings) -> TlsSettings {
        TlsSettings {
            require_tls: settings.require_tls,
            require_valid_cert: settings.require_valid_cert,
            minimum_tls_version: settings.minimum_tls_version.map(Into::into),
        }
    }
}

impl From<TlsSettings> for sim::TlsSettings {
    fn from(settings: TlsSettings) -> sim::TlsSettings {
        sim::TlsSettings {
            require_tls: settings.require_tls,
            require_valid_cert: settings.require_valid_cert,
            minimum_tls_version: settings.minimum_tls_version.map(Into::into),
        }
    }
}

impl PartialEq<sim::TlsSettings> for TlsSettings {
    fn eq(&self, other: &sim::TlsSettings) -> bool {
        *self == TlsSettings::from(*other)
    }
}

impl PartialEq<TlsSettings> for sim::TlsSettings {
    fn eq(&self, other: &TlsSettings) -> bool {
        other == self
    }
}

impl PartialEq<sim::Region> for Region {
    fn eq(&self, other: &sim::Region) -> bool {
        *self == Region::from(*other)
    }
}

impl PartialEq<Region> for sim::Region {
    fn eq(&self, other: &Region) -> bool {
        other == self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_converts_both_ways_and_compares_equal() {
        for region in [Region::Global, Region::Eu] {
            let simulated = sim::Region::from(region);
            assert_eq!(Region::from(simulated), region);
            assert_eq!(region, simulated);
            assert_eq!(simulated, region);
        }
        for version in TlsVersion::ALL {
            let settings = TlsSettings {
                require_tls: Some(true),
                require_valid_cert: None,
                minimum_tls_version: Some(version),
            };
            let simulated = sim::TlsSettings::from(settings);
            assert_eq!(TlsSettings::from(simulated), settings);
            assert_eq!(settings, simulated);
            assert_eq!(simulated, settings);
            assert!(simulated != TlsSettings::default());
        }
        assert_eq!(
            TlsSettings::from(sim::TlsSettings::SENDGRID_DEFAULTS),
            TlsSettings::SENDGRID_DEFAULTS
        );
    }
}
