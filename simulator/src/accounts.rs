//! Parent accounts, their subusers and customer accounts: each one's SendGrid user id, username,
//! region and the Enforced TLS settings it stores.

use super::fleet;
use super::settings::{Region, TlsSettings, TlsVersion};
use serde::Serialize;
use std::collections::BTreeMap;

/// A parent account with its subusers (name, region) and customer accounts (id). Every one starts
/// at SendGrid's defaults {false, false, 1.1} and gets a user id of its own (see [`SimUser`]).
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

/// What `GET /v3/user/username` tells about an account, and where it lives.
///
/// `user_id` is unique across the whole simulator, and stable: given in creation order (the
/// configured accounts first, in order), never reused, kept when a fleet is added again. The
/// username of a parent is its name, of a subuser its name, and of a customer account
/// `customer-<id>` (SendGrid's own choice for these is not documented). JSON (`GET /_sim/user`):
/// `{"username":"marketing-sub","user_id":1002,"region":"global"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimUser {
    pub username: String,
    pub user_id: u64,
    /// Parents and customer accounts are global; a subuser is locked to its own region.
    pub region: Region,
}

/// One account whose settings can change, and the settings it holds.
#[derive(Debug)]
pub struct User {
    pub profile: SimUser,
    pub stored: Stored,
    /// What it held before its last PATCH, and how many GETs still answer that (a lagging read).
    pub lagging: Option<(Stored, u32)>,
}

/// One parent account and everything under it.
#[derive(Debug)]
struct Account {
    parent: User,
    subusers: BTreeMap<String, User>,
    customers: BTreeMap<String, User>,
}

impl Account {
    /// A parent without subusers or customer accounts; a parent is global.
    fn new(ids: &mut UserIds, name: &str) -> Account {
        Account {
            parent: ids.user(name.to_owned(), Region::Global),
            subusers: BTreeMap::new(),
            customers: BTreeMap::new(),
        }
    }
}

/// The first user id given out unless configured: ids look like SendGrid's, and none is
/// mistaken for a count.
pub const FIRST_USER_ID: u64 = 1001;

/// Gives out user ids, each once.
#[derive(Debug)]
struct UserIds {
    next: u64,
}

impl UserIds {
    /// A new account with default settings and the next id.
    fn user(&mut self, username: String, region: Region) -> User {
        let user_id = self.next;
        self.next += 1;
        User {
            profile: SimUser {
                username,
                user_id,
                region,
            },
            stored: Stored::default(),
            lagging: None,
        }
    }
}

/// All accounts, by parent name.
#[derive(Debug)]
pub struct Accounts {
    accounts: BTreeMap<String, Account>,
    ids: UserIds,
}

impl Accounts {
    /// The accounts of `configured`, with user ids from `first_user_id` on.
    pub fn new(configured: &[SimAccount], first_user_id: u64) -> Accounts {
        let mut accounts = Accounts {
            accounts: BTreeMap::new(),
            ids: UserIds {
                next: first_user_id,
            },
        };
        for config in configured {
            accounts.add(config);
        }
        accounts
    }

    /// Adds a parent account's subusers and customer accounts (creating the parent if needed).
    /// Ones that exist already keep their settings, user id and (a subuser) region.
    pub fn add(&mut self, config: &SimAccount) {
        let Accounts { accounts, ids } = self;
        let account = accounts
            .entry(config.name.clone())
            .or_insert_with(|| Account::new(ids, &config.name));
        for (name, region) in &config.subusers {
            account
                .subusers
                .entry(name.clone())
                .or_insert_with(|| ids.user(name.clone(), *region));
        }
        for id in &config.customer_accounts {
            account
                .customers
                .entry(id.clone())
                .or_insert_with(|| ids.user(format!("customer-{id}"), Region::Global));
        }
    }

    /// Creates a parent account with default settings if it does not exist yet (a key may name
    /// an account that the configuration does not list).
    pub fn ensure(&mut self, name: &str) {
        self.add(&SimAccount {
            name: name.to_owned(),
            subusers: Vec::new(),
            customer_accounts: Vec::new(),
        });
    }

    /// The account `target` names within parent `account`; `None` if it does not exist.
    pub fn get_mut(&mut self, account: &str, target: Target<'_>) -> Option<&mut User> {
        let account = self.accounts.get_mut(account)?;
        match target {
            Target::Parent => Some(&mut account.parent),
            Target::Subuser(name) => account.subusers.get_mut(name),
            Target::Customer(id) => account.customers.get_mut(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Accounts {
        Accounts::new(
            &[SimAccount {
                name: "main".into(),
                subusers: vec![("eu-sub".into(), Region::Eu)],
                customer_accounts: vec!["1234567".into()],
            }],
            FIRST_USER_ID,
        )
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

    /// Username, id and region of a target, if it exists.
    fn profile(accounts: &mut Accounts, account: &str, target: Target<'_>) -> Option<SimUser> {
        accounts
            .get_mut(account, target)
            .map(|user| user.profile.clone())
    }

    fn user(username: &str, user_id: u64, region: Region) -> Option<SimUser> {
        Some(SimUser {
            username: username.into(),
            user_id,
            region,
        })
    }

    #[test]
    fn finds_targets_with_their_ids_and_regions() {
        let mut accounts = accounts();
        assert_eq!(
            accounts.get_mut("main", Target::Parent).unwrap().stored,
            Stored::default()
        );
        for (target, expected) in [
            (Target::Parent, user("main", 1001, Region::Global)),
            (Target::Subuser("eu-sub"), user("eu-sub", 1002, Region::Eu)),
            (
                Target::Customer("1234567"),
                user("customer-1234567", 1003, Region::Global),
            ),
            (Target::Subuser("nobody"), None),
            (Target::Customer("1"), None),
        ] {
            assert_eq!(profile(&mut accounts, "main", target), expected);
        }
        assert_eq!(profile(&mut accounts, "other", Target::Parent), None);
        accounts.ensure("other");
        accounts.ensure("other");
        assert_eq!(
            profile(&mut accounts, "other", Target::Parent),
            user("other", 1004, Region::Global)
        );
    }

    #[test]
    fn the_same_names_under_two_parents_are_two_users() {
        let mut accounts = accounts();
        accounts.add(&SimAccount {
            name: "second".into(),
            subusers: vec![("eu-sub".into(), Region::Eu)],
            customer_accounts: vec!["1234567".into()],
        });
        for target in [
            Target::Parent,
            Target::Subuser("eu-sub"),
            Target::Customer("1234567"),
        ] {
            let first = profile(&mut accounts, "main", target).unwrap();
            let second = profile(&mut accounts, "second", target).unwrap();
            assert_ne!(first.user_id, second.user_id, "{target:?}");
        }
    }

    #[test]
    fn adding_keeps_what_exists() {
        let mut accounts = accounts();
        accounts
            .get_mut("main", Target::Subuser("eu-sub"))
            .unwrap()
            .stored
            .require_tls = true;
        accounts.add(&SimAccount {
            name: "main".into(),
            subusers: vec![
                ("eu-sub".into(), Region::Global),
                ("new".into(), Region::Global),
            ],
            customer_accounts: vec!["1234567".into(), "7".into()],
        });
        let kept = accounts.get_mut("main", Target::Subuser("eu-sub")).unwrap();
        assert_eq!(
            (
                kept.profile.region,
                kept.profile.user_id,
                kept.stored.require_tls
            ),
            (Region::Eu, 1002, true)
        );
        assert_eq!(
            profile(&mut accounts, "main", Target::Subuser("new")),
            user("new", 1004, Region::Global)
        );
        assert_eq!(
            profile(&mut accounts, "main", Target::Customer("7")),
            user("customer-7", 1005, Region::Global)
        );
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
