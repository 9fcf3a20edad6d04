//! Where assignment and event callbacks may go.
//!
//! By default anywhere, `localhost` included: that is what a developer running Switchyard beside
//! an app wants. An operator narrows it with allow and deny rules, each an IP address, a CIDR
//! block (`10.0.0.0/8`), a host name (`hooks.example.com`) or a domain and its subdomains
//! (`.example.com`). With allow rules, a callback's host must match one; a callback matching a
//! deny rule is refused. Names are checked as written and again on every address they resolve
//! to (the connection uses only addresses that pass), so a name cannot smuggle a callback to a
//! denied address.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;

/// One allow or deny rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// An address block (a lone address is a block of one).
    Net(IpNet),
    /// Exactly this host name.
    Host(String),
    /// This domain and every name under it (written `.example.com`).
    Domain(String),
}

impl FromStr for Rule {
    type Err = String;
    fn from_str(s: &str) -> Result<Rule, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("an empty callback rule".to_owned());
        }
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Rule::Net(net));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Rule::Net(IpNet::from(ip)));
        }
        let name = s.trim_start_matches('*').to_ascii_lowercase();
        let valid = |n: &str| {
            !n.is_empty()
                && n.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
        };
        match name.strip_prefix('.') {
            Some(domain) if valid(domain) => Ok(Rule::Domain(domain.to_owned())),
            None if valid(&name) => Ok(Rule::Host(name)),
            _ => Err(format!(
                "'{s}' is not an IP address, a CIDR block, a host name or a .domain"
            )),
        }
    }
}

impl Rule {
    fn matches_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        matches!(self, Rule::Net(net) if net.contains(&ip))
    }

    fn matches_name(&self, host: &str) -> bool {
        match self {
            Rule::Host(h) => host == h,
            Rule::Domain(d) => host == d || host.ends_with(&format!(".{d}")),
            Rule::Net(_) => false,
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is checked as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The allow and deny rules of callbacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackPolicy {
    /// When not empty, a callback's host (its name, or each address) must match one of these.
    pub allow: Vec<Rule>,
    /// A callback whose name or address matches one of these is refused.
    pub deny: Vec<Rule>,
}

impl CallbackPolicy {
    /// Whether a callback may go to `host` as written in its URL (a name or an address).
    pub fn admits_host(&self, host: &str) -> Result<(), String> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.admits_ip(ip);
        }
        if self.deny.iter().any(|r| r.matches_name(&host)) {
            return Err(format!(
                "the callback host {host} is denied by --callback-deny"
            ));
        }
        // A name not allowed by name may still be allowed by the addresses it resolves to.
        Ok(())
    }

    /// Whether a callback may connect to `ip`, given that its URL named `host`.
    fn admits_resolved(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        if self.allow.is_empty() || self.allow.iter().any(|r| r.matches_name(host)) {
            return self.denies_ip(ip);
        }
        self.admits_ip(ip)
    }

    fn admits_ip(&self, ip: IpAddr) -> Result<(), String> {
        if !self.allow.is_empty() && !self.allow.iter().any(|r| r.matches_ip(ip)) {
            return Err(format!(
                "the callback address {ip} is not allowed by --callback-allow"
            ));
        }
        self.denies_ip(ip)
    }

    fn denies_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.deny.iter().any(|r| r.matches_ip(ip)) {
            return Err(format!(
                "the callback address {ip} is denied by --callback-deny"
            ));
        }
        Ok(())
    }

    /// Checks a callback URL before it is sent: its host as written. Names are checked again,
    /// address by address, when they resolve ([`CallbackPolicy::client`]).
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("invalid callback URL: {e}"))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| "the callback URL has no host".to_owned())?;
        self.admits_host(host)
    }

    /// An HTTP client whose name resolution keeps only the addresses this policy admits.
    pub fn client(self: &Arc<Self>) -> reqwest::Client {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(Resolver(Arc::clone(self))))
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "building the callback client failed; using defaults");
                reqwest::Client::new()
            })
    }
}

/// Resolves with the system resolver, then drops the addresses the policy refuses.
struct Resolver(Arc<CallbackPolicy>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.0);
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let admitted: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.admits_resolved(&host, a.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refused = Some(why);
                        false
                    }
                })
                .collect();
            if admitted.is_empty() {
                let why = refused.unwrap_or_else(|| format!("{host} did not resolve"));
                return Err(why.into());
            }
            Ok(Box::new(admitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> CallbackPolicy {
        CallbackPolicy {
            allow: allow.iter().map(|r| r.parse().unwrap()).collect(),
            deny: deny.iter().map(|r| r.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn rules_parse_addresses_blocks_hosts_and_domains() {
        assert_eq!(
            "10.0.0.0/8".parse::<Rule>(),
            Ok(Rule::Net("10.0.0.0/8".parse().unwrap()))
        );
        assert_eq!(
            "::1".parse::<Rule>(),
            Ok(Rule::Net("::1/128".parse().unwrap()))
        );
        assert_eq!(
            "Hooks.Example.com".parse::<Rule>(),
            Ok(Rule::Host("hooks.example.com".into()))
        );
        assert_eq!(
            "*.example.com".parse::<Rule>(),
            Ok(Rule::Domain("example.com".into()))
        );
        assert!("http://x".parse::<Rule>().is_err());
        assert!("".parse::<Rule>().is_err());
    }

    #[test]
    fn by_default_everything_goes_localhost_included() {
        let p = CallbackPolicy::default();
        assert_eq!(p.check_url("http://localhost:3000/a"), Ok(()));
        assert_eq!(p.check_url("http://127.0.0.1:3000/a"), Ok(()));
        assert_eq!(
            p.admits_resolved("localhost", "127.0.0.1".parse().unwrap()),
            Ok(())
        );
    }

    #[test]
    fn deny_wins_and_allow_narrows() {
        let p = policy(
            &[".example.com", "192.0.2.0/24"],
            &["169.254.0.0/16", "127.0.0.0/8"],
        );
        assert!(p.check_url("http://127.0.0.1/x").is_err());
        assert!(
            p.check_url("http://[::ffff:127.0.0.1]/x").is_err(),
            "mapped IPv4"
        );
        assert!(p.check_url("http://10.1.2.3/x").is_err(), "not allowed");
        assert_eq!(p.check_url("http://192.0.2.7/x"), Ok(()));
        // A name is judged by name when allowed so, and by every address it resolves to.
        assert_eq!(
            p.admits_resolved("hooks.example.com", "198.51.100.1".parse().unwrap()),
            Ok(())
        );
        assert!(p
            .admits_resolved("hooks.example.com", "127.0.0.1".parse().unwrap())
            .is_err());
        assert!(p
            .admits_resolved("elsewhere.test", "198.51.100.1".parse().unwrap())
            .is_err());
        assert_eq!(
            p.admits_resolved("elsewhere.test", "192.0.2.1".parse().unwrap()),
            Ok(())
        );
        let p = policy(&[], &["metadata.internal"]);
        assert!(p.check_url("http://metadata.internal/latest").is_err());
    }
}
