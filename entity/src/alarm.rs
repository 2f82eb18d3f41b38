//! Alarm schedules: what the built-in `/whisk.system/alarms` feeds keep for a trigger, checked as
//! openwhisk-package-alarms checks it (with its 400 sentences), and when the trigger fires next.
//!
//! Three feeds share one document shape, as upstream's do: `alarm` (a cron pattern of five fields, or
//! six with seconds first, in UTC or an IANA `timezone`), `once` (a `date`) and `interval` (every
//! `minutes`, counted from `startDate`). Times are epoch milliseconds. The schedule math is pure:
//! callers pass `now`, so tests control time.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::EpochMillis;

/// Which of the three feeds a schedule belongs to; the feed actions say it with a parameter bound on
/// them (`fireOnce` on `once`, `isInterval` on `interval`), as upstream's do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Cron,
    Once,
    Interval,
}

impl FeedKind {
    pub fn of(params: &Map<String, Value>) -> FeedKind {
        if truthy(params.get("fireOnce")) {
            FeedKind::Once
        } else if truthy(params.get("isInterval")) {
            FeedKind::Interval
        } else {
            FeedKind::Cron
        }
    }
}

/// JavaScript's truthiness, which upstream's feed applies to its parameters.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// Why a schedule stopped: `kind` is `AUTO` for everything Owl decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmStatus {
    pub active: bool,
    pub date_changed: EpochMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// A fire that did not go through, kept until the next one that does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FireError {
    pub date: EpochMillis,
    pub message: String,
}

/// The stored schedule of one trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarm {
    /// The trigger: its namespace (never `_`) and name.
    pub namespace: String,
    pub name: String,
    /// The key the schedule was created with (`uuid:key`): every fire acts as its identity, and stops
    /// when the key no longer opens the namespace.
    pub apikey: String,
    /// The body of every fire: always a JSON object.
    pub payload: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_fire: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_date: Option<Value>,
    /// Deprecated upstream, still honoured for cron schedules: fires allowed in all (-1: no end).
    #[serde(default = "unlimited")]
    pub max_triggers: i64,
    pub status: AlarmStatus,
    /// When it fires next; `None` once it has no fire left or is stopped.
    #[serde(default)]
    pub next_fire: Option<EpochMillis>,
    #[serde(default)]
    pub last_fired: Option<EpochMillis>,
    #[serde(default)]
    pub fire_count: u64,
    #[serde(default)]
    pub last_error: Option<FireError>,
}

fn unlimited() -> i64 {
    -1
}

/// A 400 in upstream's words.
pub type Invalid = String;

/// Reads a date as JavaScript's `new Date(value)` does for the forms people send: epoch milliseconds
/// as a number, ISO 8601 (a date alone, or a date and time with or without seconds, fraction and
/// offset; without an offset it is read as UTC, the zone Owl's scheduler runs in) and RFC 2822.
pub fn parse_date(v: &Value) -> Option<EpochMillis> {
    const MAX: f64 = 8.64e15;
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() <= MAX)
            .map(|f| f.trunc() as i64),
        Value::String(s) => parse_date_text(s.trim()),
        _ => None,
    }
}

fn parse_date_text(s: &str) -> Option<EpochMillis> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(d.timestamp_millis());
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.timestamp_millis());
    }
    None
}

/// A date parameter as upstream checks it: a date, in the future, after `start` when given.
fn check_date(
    v: &Value,
    param: &str,
    start: Option<&Value>,
    now: EpochMillis,
) -> Result<EpochMillis, Invalid> {
    let shown = show(v);
    let Some(t) = parse_date(v) else {
        return Err(format!("{param} parameter '{shown}' is not a valid Date"));
    };
    if now >= t {
        return Err(format!("{param} parameter '{shown}' must be in the future"));
    }
    if let Some(s) = start
        && parse_date(s).is_some_and(|s| t <= s)
    {
        return Err(format!(
            "{param} parameter '{shown}' must be greater than the startDate parameter '{}'",
            show(s)
        ));
    }
    Ok(t)
}

/// A value as JavaScript interpolates it into a sentence.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A cron pattern of five fields, or six with seconds first; no year field.
pub fn parse_cron(pattern: &str) -> Option<Cron> {
    let fields = pattern.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return None;
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(pattern)
        .ok()
}

fn parse_timezone(tz: Option<&str>) -> Result<chrono_tz::Tz, Invalid> {
    match tz {
        None => Ok(chrono_tz::UTC),
        Some(t) => chrono_tz::Tz::from_str(t).map_err(|_| "Invalid timezone.".to_string()),
    }
}

/// The first time after `after` that `pattern` matches in `tz`.
fn cron_next(cron: &Cron, tz: chrono_tz::Tz, after: EpochMillis) -> Option<EpochMillis> {
    let from = Utc.timestamp_millis_opt(after).single()?.with_timezone(&tz);
    cron.find_next_occurrence(&from, false)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Does a six-field pattern name seconds other than 0 (what `limitCronFields` refuses)?
fn has_seconds_granularity(cron: &str) -> bool {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    fields.len() > 5 && fields[fields.len() - 6] != "0"
}

fn check_cron(cron: &str, tz: Option<&str>, limit_fields: bool) -> Result<(), Invalid> {
    let zone = parse_timezone(tz);
    if parse_cron(cron).is_none() {
        return Err(format!("cron pattern '{cron}' is not valid"));
    }
    zone?;
    if limit_fields && has_seconds_granularity(cron) {
        return Err(
            "cron pattern is limited to 5 fields with 1 minute as the finest granularity".into(),
        );
    }
    Ok(())
}

/// `minutes`: an integer (a number or a numeric string) greater than zero.
fn check_minutes(v: &Value) -> Result<i64, Invalid> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(f) if f.fract() == 0.0 && f.is_finite() => {
            if f <= 0.0 {
                Err("the minutes parameter must be an integer greater than zero".into())
            } else {
                Ok(f as i64)
            }
        }
        _ => Err("the minutes parameter must be an integer".into()),
    }
}

fn check_delete_after_fire(v: &Value) -> Result<String, Invalid> {
    let s = show(v).trim().to_lowercase();
    if ["false", "true", "rules"].contains(&s.as_str()) {
        Ok(s)
    } else {
        Err("deleteAfterFire parameter must be one of [false, true, rules].".into())
    }
}

/// `trigger_payload`: an object as it is, a string as `{"payload": ...}`, nothing or `""` as `{}`.
fn payload_of(v: Option<&Value>) -> Result<Value, Invalid> {
    match v {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::String(s)) if s.is_empty() => Ok(json!({})),
        Some(Value::String(s)) => Ok(json!({ "payload": s })),
        Some(o @ Value::Object(_)) => Ok(o.clone()),
        Some(Value::Bool(false)) => Ok(json!({})),
        Some(_) => Err("the trigger_payload parameter must be a JSON object or a string".into()),
    }
}

fn present(params: &Map<String, Value>, key: &str) -> Option<Value> {
    params.get(key).filter(|v| truthy(Some(v))).cloned()
}

impl Alarm {
    /// A new schedule from a `CREATE`, checked in upstream's order with its words.
    pub fn create(
        params: &Map<String, Value>,
        namespace: &str,
        name: &str,
        apikey: &str,
        now: EpochMillis,
        limit_cron_fields: bool,
    ) -> Result<Alarm, Invalid> {
        let payload = payload_of(params.get("trigger_payload"))?;
        let max_triggers = params
            .get("maxTriggers")
            .and_then(Value::as_i64)
            .filter(|n| *n != 0)
            .unwrap_or(-1);
        let mut a = Alarm {
            namespace: namespace.to_string(),
            name: name.to_string(),
            apikey: apikey.to_string(),
            payload,
            cron: None,
            timezone: None,
            strict: None,
            date: None,
            delete_after_fire: None,
            minutes: None,
            start_date: None,
            stop_date: None,
            max_triggers,
            status: AlarmStatus {
                active: true,
                date_changed: now,
                reason: None,
            },
            next_fire: None,
            last_fired: None,
            fire_count: 0,
            last_error: None,
        };
        let kind = FeedKind::of(params);
        if kind == FeedKind::Once {
            let Some(date) = present(params, "date") else {
                return Err("alarms once trigger feed is missing the date parameter".into());
            };
            check_date(&date, "date", None, now)?;
            a.date = Some(date);
            if let Some(d) = present(params, "deleteAfterFire") {
                a.delete_after_fire = Some(check_delete_after_fire(&d)?);
            }
        } else {
            let mut first_cron: Option<EpochMillis> = None;
            if kind == FeedKind::Interval {
                let Some(m) = present(params, "minutes") else {
                    return Err("interval trigger feed is missing the minutes parameter".into());
                };
                a.minutes = Some(check_minutes(&m)?);
            } else {
                let Some(cron) = present(params, "cron") else {
                    return Err("alarms trigger feed is missing the cron parameter".into());
                };
                let cron = show(&cron);
                let tz = params.get("timezone").filter(|v| truthy(Some(v))).map(show);
                check_cron(&cron, tz.as_deref(), limit_cron_fields)?;
                first_cron = parse_cron(&cron)
                    .and_then(|c| cron_next(&c, parse_timezone(tz.as_deref()).ok()?, now));
                a.cron = Some(cron);
                a.timezone = tz;
                a.strict = params.get("strict").cloned();
            }
            if let Some(start) = present(params, "startDate") {
                check_date(&start, "startDate", None, now)?;
                a.start_date = Some(start);
            } else if kind == FeedKind::Interval {
                // A start in the future is required; upstream starts 30 s from now.
                a.start_date = Some(json!(now + 30_000));
            }
            let max_given = truthy(params.get("maxTriggers"));
            let stop = present(params, "stopDate");
            if max_given && stop.is_some() {
                return Err(if kind == FeedKind::Interval {
                    "maxTriggers is not supported for the interval trigger feed".into()
                } else {
                    "maxTriggers is not allowed when the stopDate parameter is specified".into()
                });
            }
            if let Some(stop) = stop {
                let t = check_date(&stop, "stopDate", a.start_date.as_ref(), now)?;
                if first_cron.is_some_and(|f| f > t) {
                    return Err(
                        "the first scheduled trigger fire is not until after the stop date".into(),
                    );
                }
                a.stop_date = Some(stop);
            }
        }
        a.next_fire = a.first_fire_after(now);
        Ok(a)
    }

    /// The schedule after an `UPDATE`: the fields given replace the old ones, checked as on create;
    /// the schedule is active again (as upstream's update re-enables a stopped one).
    pub fn update(
        &self,
        params: &Map<String, Value>,
        now: EpochMillis,
        limit_cron_fields: bool,
    ) -> Result<Alarm, Invalid> {
        let mut a = self.clone();
        let mut changed = false;
        if let Some(p) = present(params, "trigger_payload") {
            a.payload = payload_of(Some(&p))?;
            changed = true;
        }
        if self.date.is_some() {
            if let Some(d) = present(params, "date") {
                check_date(&d, "date", None, now)?;
                a.date = Some(d);
                changed = true;
            }
            if let Some(d) = present(params, "deleteAfterFire") {
                a.delete_after_fire = Some(check_delete_after_fire(&d)?);
                changed = true;
            }
        } else {
            if self.minutes.is_some() {
                if let Some(m) = present(params, "minutes") {
                    a.minutes = Some(check_minutes(&m)?);
                    changed = true;
                }
            } else {
                let cron_given = present(params, "cron").map(|c| show(&c));
                let tz_given = present(params, "timezone").map(|t| show(&t));
                if cron_given.is_some() || tz_given.is_some() {
                    let cron = cron_given.clone().or_else(|| self.cron.clone());
                    let tz = tz_given.clone().or_else(|| self.timezone.clone());
                    let cron = cron.unwrap_or_default();
                    check_cron(
                        &cron,
                        tz.as_deref(),
                        limit_cron_fields && cron_given.is_some(),
                    )?;
                    if cron_given.is_some() {
                        a.cron = Some(cron);
                    }
                    if tz_given.is_some() {
                        a.timezone = tz;
                    }
                    changed = true;
                }
                if params.contains_key("strict") {
                    a.strict = params.get("strict").cloned();
                    changed = true;
                }
            }
            let start_given = present(params, "startDate");
            if let Some(s) = &start_given {
                check_date(s, "startDate", None, now)?;
                a.start_date = Some(s.clone());
                changed = true;
            }
            if let Some(stop) = present(params, "stopDate") {
                let start = start_given.as_ref().or(self.start_date.as_ref());
                check_date(&stop, "stopDate", start, now)?;
                a.stop_date = Some(stop);
                changed = true;
            } else if let (Some(s), Some(stop)) = (&start_given, &self.stop_date)
                && parse_date(s).unwrap_or(0) >= parse_date(stop).unwrap_or(0)
            {
                return Err(format!(
                    "startDate parameter '{}' must be less than the stopDate parameter '{}'",
                    show(s),
                    show(stop)
                ));
            }
        }
        if !changed {
            return Err("no updatable parameters were specified".into());
        }
        a.status = AlarmStatus {
            active: true,
            date_changed: now,
            reason: None,
        };
        a.next_fire = a.first_fire_after(now);
        if a.next_fire.is_none() {
            a.stop(
                "the next scheduled trigger fire is after the stop date",
                None,
                now,
            );
        }
        Ok(a)
    }

    fn stop_at(&self) -> Option<EpochMillis> {
        self.stop_date.as_ref().and_then(parse_date)
    }

    fn start_at(&self) -> Option<EpochMillis> {
        self.start_date.as_ref().and_then(parse_date)
    }

    /// The first scheduled time strictly after `t`, within the start and stop dates; `None` when
    /// the schedule has no fire left.
    pub fn first_fire_after(&self, t: EpochMillis) -> Option<EpochMillis> {
        let next = if let Some(d) = &self.date {
            parse_date(d).filter(|d| *d > t)
        } else if let Some(m) = self.minutes {
            let every = m.checked_mul(60_000)?;
            let start = self.start_at().unwrap_or(t);
            if start > t {
                Some(start)
            } else {
                let k = (t - start) / every + 1;
                start.checked_add(k.checked_mul(every)?)
            }
        } else {
            let cron = parse_cron(self.cron.as_deref()?)?;
            let tz = parse_timezone(self.timezone.as_deref()).ok()?;
            // A schedule that starts later fires from its start date on.
            let from = self.start_at().map_or(t, |s| s.max(t));
            cron_next(&cron, tz, from)
        }?;
        match self.stop_at() {
            Some(stop) if next > stop => None,
            _ => Some(next),
        }
    }

    /// Stops the schedule, saying why.
    pub fn stop(&mut self, message: &str, status_code: Option<u16>, now: EpochMillis) {
        self.status = AlarmStatus {
            active: false,
            date_changed: now,
            reason: Some(Reason {
                kind: "AUTO".into(),
                status_code,
                message: message.to_string(),
            }),
        };
        self.next_fire = None;
    }

    /// Books the fire scheduled at `scheduled`, made at `now`: counts it and moves to the next time,
    /// or stops the schedule when that was its last fire (once, stop date, `maxTriggers`).
    pub fn fired(&mut self, scheduled: EpochMillis, now: EpochMillis) {
        self.last_fired = Some(now);
        self.fire_count += 1;
        let next = self.first_fire_after(scheduled.max(now));
        if self.date.is_some() {
            self.stop("Automatically disabled after firing once", None, now);
        } else if self.cron.is_some()
            && self.stop_date.is_none()
            && self.max_triggers > 0
            && self.fire_count >= self.max_triggers as u64
        {
            self.stop(
                "Automatically disabled after reaching max triggers",
                None,
                now,
            );
        } else if next.is_none() {
            let what = if self.minutes.is_some() {
                "interval"
            } else {
                "cron"
            };
            self.stop(
                &format!("Automatically disabled after firing last scheduled {what} trigger"),
                None,
                now,
            );
        } else {
            self.next_fire = next;
        }
    }

    /// Skips the fires Owl could not make in time (it was not running): of the scheduled times up
    /// to `now`, the latest is kept as the next fire if it is at most `grace` late (one catch-up
    /// fire); the others are skipped and recorded as missed. A `once` schedule whose date passed
    /// beyond the grace stops. Answers how many fires were skipped (counted up to 1000).
    pub fn skip_missed(&mut self, now: EpochMillis, grace: EpochMillis) -> u64 {
        let Some(due) = self.next_fire else { return 0 };
        if now - due <= grace {
            return 0;
        }
        let (mut latest, mut count) = (due, 1u64);
        while count < 1000 {
            match self.first_fire_after(latest) {
                Some(n) if n <= now => {
                    latest = n;
                    count += 1;
                }
                _ => break,
            }
        }
        let skipped = if now - latest <= grace {
            self.next_fire = Some(latest);
            count - 1
        } else {
            self.next_fire = self.first_fire_after(now);
            count
        };
        self.last_error = Some(FireError {
            date: now,
            message: format!(
                "missed {}{skipped} scheduled fire{} from {}: Owl was not running, and they were more than {} s late",
                if count >= 1000 { "at least " } else { "" },
                if skipped == 1 { "" } else { "s" },
                iso(due),
                grace / 1000
            ),
        });
        if self.next_fire.is_none() {
            let message = if self.date.is_some() {
                "Automatically disabled: the fire once date passed while Owl was not running"
            } else {
                "Automatically disabled: its last scheduled fire passed while Owl was not running"
            };
            self.stop(message, None, now);
        }
        skipped
    }

    /// What a `READ` answers: upstream's `config` and `status`, and in `status` Owl's own
    /// `lastFired`, `nextFire`, `fireCount` and `lastError`.
    pub fn read(&self, default_strict: bool) -> Value {
        let mut config = Map::new();
        config.insert("name".into(), json!(self.name));
        config.insert("namespace".into(), json!(self.namespace));
        config.insert("payload".into(), self.payload.clone());
        config.insert(
            "strict".into(),
            self.strict.clone().unwrap_or(json!(default_strict)),
        );
        let mut put = |k: &str, v: &Option<Value>| {
            if let Some(v) = v {
                config.insert(k.into(), v.clone());
            }
        };
        if self.date.is_some() {
            put("date", &self.date);
            put(
                "deleteAfterFire",
                &self.delete_after_fire.as_ref().map(|d| json!(d)),
            );
        } else {
            put("startDate", &self.start_date);
            put("stopDate", &self.stop_date);
            if self.minutes.is_some() {
                put("minutes", &self.minutes.map(|m| json!(m)));
            } else {
                put("cron", &self.cron.as_ref().map(|c| json!(c)));
                put("timezone", &self.timezone.as_ref().map(|t| json!(t)));
            }
        }
        let mut status = json!({
            "active": self.status.active,
            "dateChanged": self.status.date_changed,
            "dateChangedISO": iso_seconds(self.status.date_changed),
        });
        if let Some(r) = &self.status.reason {
            status["reason"] = json!(r);
        }
        status["lastFired"] = json!(self.last_fired);
        status["nextFire"] = json!(self.next_fire);
        status["fireCount"] = json!(self.fire_count);
        status["lastError"] = json!(self.last_error);
        json!({"config": config, "status": status})
    }
}

/// `2026-12-03T10:00:00.000Z`.
pub fn iso(t: EpochMillis) -> String {
    Utc.timestamp_millis_opt(t)
        .single()
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// `2026-12-03T10:00:00Z`, as upstream's READ shows `dateChangedISO`.
fn iso_seconds(t: EpochMillis) -> String {
    Utc.timestamp_millis_opt(t)
        .single()
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-03T10:00:00Z.
    const NOW: EpochMillis = 1_796_292_000_000;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn create(v: Value) -> Result<Alarm, Invalid> {
        Alarm::create(&params(v), "guest", "t", "k", NOW, false)
    }

    #[test]
    fn the_reference_instant_is_what_the_tests_think_it_is() {
        assert_eq!(iso(NOW), "2026-12-03T10:00:00.000Z");
    }

    #[test]
    fn a_five_field_cron_fires_on_the_minute_in_utc() {
        let a = create(json!({"cron": "*/5 * * * *"})).unwrap();
        assert_eq!(a.next_fire.map(iso).unwrap(), "2026-12-03T10:05:00.000Z");
    }

    #[test]
    fn a_six_field_cron_has_seconds_first() {
        let a = create(json!({"cron": "*/2 * * * * *"})).unwrap();
        assert_eq!(a.next_fire, Some(NOW + 2_000));
        let mut b = a.clone();
        b.fired(NOW + 2_000, NOW + 2_003);
        assert_eq!(b.next_fire, Some(NOW + 4_000));
        assert_eq!((b.fire_count, b.last_fired), (1, Some(NOW + 2_003)));
    }

    #[test]
    fn a_cron_in_a_time_zone_fires_at_that_zones_time() {
        // 02:00 in New York is 07:00 UTC in December.
        let a = create(json!({"cron": "0 2 * * *", "timezone": "America/New_York"})).unwrap();
        assert_eq!(a.next_fire.map(iso).unwrap(), "2026-12-04T07:00:00.000Z");
    }

    #[test]
    fn bad_crons_and_time_zones_are_refused_in_upstreams_words() {
        for bad in [
            "* * *",
            "61 * * * *",
            "* * * * * * *",
            "not a cron",
            "*/0 * * * *",
        ] {
            assert_eq!(
                create(json!({"cron": bad})).unwrap_err(),
                format!("cron pattern '{bad}' is not valid")
            );
        }
        assert_eq!(
            create(json!({"cron": "* * * * *", "timezone": "Mars/Olympus"})).unwrap_err(),
            "Invalid timezone."
        );
        assert_eq!(
            create(json!({})).unwrap_err(),
            "alarms trigger feed is missing the cron parameter"
        );
        assert_eq!(
            Alarm::create(
                &params(json!({"cron": "5 * * * * *"})),
                "g",
                "t",
                "k",
                NOW,
                true
            )
            .unwrap_err(),
            "cron pattern is limited to 5 fields with 1 minute as the finest granularity"
        );
    }

    #[test]
    fn start_and_stop_dates_are_checked_and_bound_the_fires() {
        assert_eq!(
            create(json!({"cron": "* * * * *", "startDate": NOW - 1})).unwrap_err(),
            format!("startDate parameter '{}' must be in the future", NOW - 1)
        );
        assert_eq!(
            create(json!({"cron": "* * * * *", "startDate": "yesterday"})).unwrap_err(),
            "startDate parameter 'yesterday' is not a valid Date"
        );
        assert_eq!(
            create(
                json!({"cron": "* * * * *", "startDate": NOW + 600_000, "stopDate": NOW + 60_000})
            )
            .unwrap_err(),
            format!(
                "stopDate parameter '{}' must be greater than the startDate parameter '{}'",
                NOW + 60_000,
                NOW + 600_000
            )
        );
        assert_eq!(
            create(json!({"cron": "0 0 1 1 *", "stopDate": "2026-12-24T00:00:00Z"})).unwrap_err(),
            "the first scheduled trigger fire is not until after the stop date"
        );
        assert_eq!(
            create(json!({"cron": "* * * * *", "stopDate": NOW + 600_000, "maxTriggers": 3}))
                .unwrap_err(),
            "maxTriggers is not allowed when the stopDate parameter is specified"
        );
        let mut a = create(
            json!({"cron": "* * * * *", "startDate": "2026-12-03T11:00:00Z",
                                  "stopDate": "2026-12-03T11:02:00Z"}),
        )
        .unwrap();
        assert_eq!(a.next_fire.map(iso).unwrap(), "2026-12-03T11:01:00.000Z");
        a.fired(a.next_fire.unwrap(), a.next_fire.unwrap());
        assert_eq!(a.next_fire.map(iso).unwrap(), "2026-12-03T11:02:00.000Z");
        a.fired(a.next_fire.unwrap(), a.next_fire.unwrap());
        assert!(!a.status.active);
        assert_eq!(
            a.status.reason.unwrap().message,
            "Automatically disabled after firing last scheduled cron trigger"
        );
    }

    #[test]
    fn once_fires_at_its_date_and_then_stops() {
        let mut a = create(json!({"fireOnce": true, "date": "2026-12-03T10:00:30Z"})).unwrap();
        assert_eq!(a.next_fire, Some(NOW + 30_000));
        a.fired(NOW + 30_000, NOW + 30_001);
        assert_eq!(
            (a.status.active, a.next_fire, a.fire_count),
            (false, None, 1)
        );
        assert_eq!(
            a.status.reason.unwrap().message,
            "Automatically disabled after firing once"
        );
        assert_eq!(
            create(json!({"fireOnce": true, "date": "2020-01-01"})).unwrap_err(),
            "date parameter '2020-01-01' must be in the future"
        );
        assert_eq!(
            create(json!({"fireOnce": true})).unwrap_err(),
            "alarms once trigger feed is missing the date parameter"
        );
        assert_eq!(
            create(json!({"fireOnce": true, "date": NOW + 5, "deleteAfterFire": "maybe"}))
                .unwrap_err(),
            "deleteAfterFire parameter must be one of [false, true, rules]."
        );
    }

    #[test]
    fn an_interval_fires_at_its_start_and_every_minutes_after() {
        let a = create(json!({"isInterval": true, "minutes": 2})).unwrap();
        assert_eq!(a.start_date, Some(json!(NOW + 30_000)));
        assert_eq!(a.next_fire, Some(NOW + 30_000));
        let mut b = a.clone();
        b.fired(NOW + 30_000, NOW + 30_002);
        assert_eq!(b.next_fire, Some(NOW + 150_000));
        for (m, e) in [
            (
                json!(-1),
                "the minutes parameter must be an integer greater than zero",
            ),
            (
                json!(0),
                "interval trigger feed is missing the minutes parameter",
            ),
            (json!(0.5), "the minutes parameter must be an integer"),
            (json!("x"), "the minutes parameter must be an integer"),
        ] {
            assert_eq!(
                create(json!({"isInterval": true, "minutes": m})).unwrap_err(),
                e
            );
        }
        assert_eq!(
            create(json!({"isInterval": true})).unwrap_err(),
            "interval trigger feed is missing the minutes parameter"
        );
    }

    #[test]
    fn an_interval_past_its_start_keeps_its_rhythm() {
        let mut a =
            create(json!({"isInterval": true, "minutes": 1, "startDate": NOW + 1_000})).unwrap();
        // Read back much later: the next fire is on the start's grid.
        assert_eq!(a.first_fire_after(NOW + 125_000), Some(NOW + 181_000));
        a.stop_date = Some(json!(NOW + 150_000));
        assert_eq!(a.first_fire_after(NOW + 125_000), None);
    }

    #[test]
    fn payloads_are_objects_and_strings_are_wrapped() {
        assert_eq!(
            create(json!({"cron": "* * * * *", "trigger_payload": "hi"}))
                .unwrap()
                .payload,
            json!({"payload": "hi"})
        );
        assert_eq!(
            create(json!({"cron": "* * * * *", "trigger_payload": ""}))
                .unwrap()
                .payload,
            json!({})
        );
        assert_eq!(
            create(json!({"cron": "* * * * *", "trigger_payload": {"a": 1}}))
                .unwrap()
                .payload,
            json!({"a": 1})
        );
        assert!(create(json!({"cron": "* * * * *", "trigger_payload": [1]})).is_err());
    }

    #[test]
    fn a_fire_missed_by_more_than_the_grace_is_skipped_and_recorded() {
        let mut a = create(json!({"cron": "*/10 * * * * *"})).unwrap();
        assert_eq!(a.next_fire, Some(NOW + 10_000));
        // Within the grace: made up.
        assert_eq!(a.skip_missed(NOW + 15_000, 60_000), 0);
        assert_eq!(a.next_fire, Some(NOW + 10_000));
        // Beyond it: the latest time is made up once, the 11 before it are skipped.
        let mut b = a.clone();
        assert_eq!(b.skip_missed(NOW + 125_000, 60_000), 11);
        assert_eq!(b.next_fire, Some(NOW + 120_000));
        // All beyond it: skipped to the next time after now.
        let mut c = a.clone();
        assert_eq!(c.skip_missed(NOW + 125_000, 1_000), 12);
        assert_eq!(c.next_fire, Some(NOW + 130_000));
        a = b;
        assert!(
            a.last_error
                .unwrap()
                .message
                .starts_with("missed 11 scheduled fires from 2026-12-03T10:00:10.000Z")
        );
        let mut once = create(json!({"fireOnce": true, "date": NOW + 10_000})).unwrap();
        once.skip_missed(NOW + 600_000, 60_000);
        assert!(!once.status.active);
    }

    #[test]
    fn max_triggers_stops_a_cron_after_that_many_fires() {
        let mut a = create(json!({"cron": "* * * * * *", "maxTriggers": 2})).unwrap();
        a.fired(NOW + 1000, NOW + 1000);
        assert!(a.status.active);
        a.fired(NOW + 2000, NOW + 2000);
        assert_eq!(
            a.status.reason.unwrap().message,
            "Automatically disabled after reaching max triggers"
        );
    }

    #[test]
    fn updates_replace_what_is_given_and_need_something() {
        let a = create(json!({"cron": "*/5 * * * *"})).unwrap();
        assert_eq!(
            a.update(&params(json!({})), NOW, false).unwrap_err(),
            "no updatable parameters were specified"
        );
        let b = a
            .update(
                &params(json!({"cron": "0 * * * *", "trigger_payload": "x"})),
                NOW,
                false,
            )
            .unwrap();
        assert_eq!(b.cron.as_deref(), Some("0 * * * *"));
        assert_eq!(b.payload, json!({"payload": "x"}));
        assert_eq!(b.next_fire.map(iso).unwrap(), "2026-12-03T11:00:00.000Z");
        assert_eq!(
            a.update(&params(json!({"cron": "bad"})), NOW, false)
                .unwrap_err(),
            "cron pattern 'bad' is not valid"
        );
    }

    #[test]
    fn read_answers_upstreams_config_and_status_with_owls_counters() {
        let a = create(json!({"cron": "*/5 * * * *", "trigger_payload": {"a": 1}})).unwrap();
        assert_eq!(
            a.read(false),
            json!({
                "config": {"name": "t", "namespace": "guest", "payload": {"a": 1}, "strict": false,
                           "cron": "*/5 * * * *"},
                "status": {"active": true, "dateChanged": NOW, "dateChangedISO": "2026-12-03T10:00:00Z",
                           "lastFired": null, "nextFire": NOW + 300_000, "fireCount": 0, "lastError": null}
            })
        );
    }

    #[test]
    fn dates_read_as_javascript_reads_them() {
        assert_eq!(parse_date(&json!(NOW)), Some(NOW));
        for s in [
            "2026-12-03T10:00:00Z",
            "2026-12-03T10:00:00.000Z",
            "2026-12-03T11:00:00+01:00",
            "2026-12-03T10:00",
            "2026-12-03T10:00:00",
            "Thu, 03 Dec 2026 10:00:00 GMT",
        ] {
            assert_eq!(parse_date(&json!(s)), Some(NOW), "{s}");
        }
        assert_eq!(parse_date(&json!("2026-12-03")), Some(NOW - 36_000_000));
        assert_eq!(parse_date(&json!("soon")), None);
        assert_eq!(parse_date(&json!(true)), None);
    }
}
