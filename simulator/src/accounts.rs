//! Parent accounts, their subusers and customer accounts, and the Enforced TLS settings each one
//! stores.

use super::fleet;
use super::settings::{Region, TlsSettings, TlsVersion};
use std::collections::BTreeMap;

/// A parent account with its subusers (name, region) and customer accounts (id). Every one starts
/// at SendGrid's defaults {false, false, 1.1}.
#[derive(Clone, Debug)]
pub struct SimAccount {
    pub name: String,
    pub subusers: Vec<(String, Region)>,
    pub customer_accounts: Vec<String>,
}

impl SimAccount {
    /// A fleet given by name patterns (see [`fleet::expand`]): `team-{0..9999}` is ten thousand
    /// subusers. The error names the pattern that is wrong.
    pub fn fleet<S: AsRef<str>>(
        name: &str,
        subusers: &[S],
        eu_subusers: &[S],
        customer_accounts: &[S],
    ) -> Result<SimAccount, String> {
        let names = |patterns: &[S]| -> Result<Vec<String>, String> {
            let mut names = Vec::new();
            for pattern in patterns {
                names.extend(fleet::expand(pattern.as_ref())?);
            }
            Ok(names)
        };
        let in_region = |region| move |name| (name, region);
        let mut all_subusers: Vec<_> = names(subusers)?
            .into_iter()
            .map(in_region(Region::Global))
            .collect();
        all_subusers.extend(names(eu_subusers)?.into_iter().map(in_region(Region::Eu)));
        Ok(SimAccount {
            name: name.to_owned(),
            subusers: all_subusers,
            customer_accounts: names(customer_accounts)?,
        })
    }
}

/// Settings as SendGrid stores them: always all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub require_tls: bool,
    pub require_valid_cert: bool,
    pub version: TlsVersion,
}

impl Default for Stored {
    /// SendGrid's defaults for an account that never changed them.
    fn default() -> Stored {
        Stored {
            require_tls: false,
            require_valid_cert: false,
            version: TlsVersion::V1_1,
        }
    }
}

impl Stored {
    /// Changes only the fields that are set.
    pub fn apply(&mut self, changes: TlsSettings) {
        if let Some(value) = changes.require_tls {
            self.require_tls = value;
        }
        if let Some(value) = changes.require_valid_cert {
            self.require_valid_cert = value;
        }
        if let Some(value) = changes.minimum_tls_version {
            self.version = value;
        }
    }

    pub fn to_settings(self) -> TlsSettings {
        TlsSettings {
            require_tls: Some(self.require_tls),
            require_valid_cert: Some(self.require_valid_cert),
            minimum_tls_version: Some(self.version),
        }
    }
}

/// Whose settings, within a parent account, as named by an `on-behalf-of` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Parent,
    Subuser(&'a str),
    Customer(&'a str),
}

impl<'a> Target<'a> {
    /// No header: the parent; `account-id <id>`: a customer account; anything else: a subuser.
    pub fn parse(on_behalf_of: Option<&'a str>) -> Target<'a> {
        match on_behalf_of.map(str::trim) {
            None => Target::Parent,
            Some(value) => match value.strip_prefix("account-id ") {
                Some(id) => Target::Customer(id.trim()),
                None => Target::Subuser(value),
            },
        }
    }
}

/// One parent account and everything under it.
#[derive(Debug, Default)]
struct Account {
    settings: Stored,
    subusers: BTreeMap<String, (Region, Stored)>,
    customers: BTreeMap<String, Stored>,
}

/// All accounts, by parent name.
#[derive(Debug, Default)]
pub struct Accounts {
    accounts: BTreeMap<String, Account>,
}

impl Accounts {
    pub fn new(configured: &[SimAccount]) -> Accounts {
        let mut accounts = Accounts::default();
        for config in configured {
            accounts.add(config);
        }
        accounts
    }

    /// Adds a parent account's subusers and customer accounts (creating the parent if needed).
    /// Ones that exist already keep their settings (and a subuser its region).
    pub fn add(&mut self, config: &SimAccount) {
        let account = self.entry(&config.name);
        for (name, region) in &config.subusers {
            account
                .subusers
                .entry(name.clone())
                .or_insert((*region, Stored::default()));
        }
        for id in &config.customer_accounts {
            account.customers.entry(id.clone()).or_default();
        }
    }

    /// Creates a parent account with default settings if it does not exist yet (a key may name
    /// an account that the configuration does not list).
    pub fn ensure(&mut self, name: &str) {
        self.entry(name);
    }

    fn entry(&mut self, name: &str) -> &mut Account {
        self.accounts.entry(name.to_owned()).or_default()
    }

    /// The region a target lives in and its settings; `None` if it does not exist. Parents and
    /// customer accounts are global; a subuser is locked to its own region.
    pub fn get_mut(&mut self, account: &str, target: Target<'_>) -> Option<(Region, &mut Stored)> {
        let account = self.accounts.get_mut(account)?;
        match target {
            Target::Parent => Some((Region::Global, &mut account.settings)),
            Target::Subuser(name) => account
                .subusers
                .get_mut(name)
                .map(|(region, stored)| (*region, stored)),
            Target::Customer(id) => account
                .customers
                .get_mut(id)
                .map(|stored| (Region::Global, stored)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Accounts {
        Accounts::new(&[SimAccount {
            name: "main".into(),
            subusers: vec![("eu-sub".into(), Region::Eu)],
            customer_accounts: vec!["1234567".into()],
        }])
    }

    #[test]
    fn parses_on_behalf_of_values() {
        assert_eq!(Target::parse(None), Target::Parent);
        assert_eq!(Target::parse(Some("sub")), Target::Subuser("sub"));
        assert_eq!(
            Target::parse(Some("account-id  42 ")),
            Target::Customer("42")
        );
        assert_eq!(Target::parse(Some("")), Target::Subuser(""));
    }

    #[test]
    fn finds_targets_with_their_regions() {
        let mut accounts = accounts();
        assert_eq!(
            accounts.get_mut("main", Target::Parent),
            Some((Region::Global, &mut Stored::default()))
        );
        assert_eq!(
            accounts
                .get_mut("main", Target::Subuser("eu-sub"))
                .map(|t| t.0),
            Some(Region::Eu)
        );
        assert_eq!(
            accounts
                .get_mut("main", Target::Customer("1234567"))
                .map(|t| t.0),
            Some(Region::Global)
        );
        assert!(
            accounts
                .get_mut("main", Target::Subuser("nobody"))
                .is_none()
        );
        assert!(accounts.get_mut("main", Target::Customer("1")).is_none());
        assert!(accounts.get_mut("other", Target::Parent).is_none());
        accounts.ensure("other");
        assert!(accounts.get_mut("other", Target::Parent).is_some());
    }

    #[test]
    fn adding_keeps_what_exists() {
        let mut accounts = accounts();
        accounts
            .get_mut("main", Target::Subuser("eu-sub"))
            .unwrap()
            .1
            .require_tls = true;
        accounts.add(&SimAccount {
            name: "main".into(),
            subusers: vec![
                ("eu-sub".into(), Region::Global),
                ("new".into(), Region::Global),
            ],
            customer_accounts: vec!["1234567".into(), "7".into()],
        });
        let (region, stored) = accounts.get_mut("main", Target::Subuser("eu-sub")).unwrap();
        assert_eq!((region, stored.require_tls), (Region::Eu, true));
        assert!(accounts.get_mut("main", Target::Subuser("new")).is_some());
        assert!(accounts.get_mut("main", Target::Customer("7")).is_some());
    }

    #[test]
    fn apply_changes_only_set_fields() {
        let mut stored = Stored::default();
        stored.apply(TlsSettings {
            require_valid_cert: Some(true),
            ..TlsSettings::default()
        });
        assert_eq!(
            stored.to_settings(),
            TlsSettings {
                require_tls: Some(false),
                require_valid_cert: Some(true),
                minimum_tls_version: Some(TlsVersion::V1_1),
            }
        );
        assert_eq!(
            Stored::default().to_settings(),
            TlsSettings::SENDGRID_DEFAULTS
        );
    }
}
