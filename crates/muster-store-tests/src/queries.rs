//! Contract scenarios for filtered, ordered and paged reads: both backends must select, order and
//! count exactly the same rows for the same [`muster_core::store::query`] value.

use muster_core::assessment::Assessment;
use muster_core::enums::{AlertClassification, AlertSeverity, GraphEnum, IncidentStatus};
use muster_core::incident::Incident;
use muster_core::store::query::counts::{Counted, FacetCounts};
use muster_core::store::query::{
    AlertField, AlertQuery, Comparison, Cursor, Facet, FacetValues, Filter, IncidentField, IncidentQuery, OrderKey,
    Query, QueryField, SearchTerm, TextMatch, Value,
};
use muster_core::store::{Store, WriteBatch};

use crate::fixtures::{alert, at, iid, incident, stored};

/// Eight incidents that differ in every filterable way (ids 1–8, activity 10·id minutes after
/// [`at`]`(0)`).
pub fn queue() -> Vec<Incident> {
    let mut out = Vec::new();
    for n in 1..=8 {
        let mut i = incident(n, n * 10);
        i.severity = [AlertSeverity::Low, AlertSeverity::Medium, AlertSeverity::High, AlertSeverity::Informational]
            [(n as usize) % 4];
        i.status = [IncidentStatus::Active, IncidentStatus::InProgress, IncidentStatus::Resolved][(n as usize) % 3];
        i.assigned_to = (n % 2 == 0).then(|| format!("Analyst{}@Contoso.com", n % 4));
        if n % 3 == 0 {
            i.assessment = Assessment::new(Some(AlertClassification::TruePositive), None).unwrap();
        }
        i.custom_tags = match n {
            1 => vec!["vip".into()],
            2 => vec!["vip".into(), "finance".into()],
            3 => vec!["finance".into()],
            _ => Vec::new(),
        };
        i.service_sources = vec![if n <= 4 { "microsoftDefenderForEndpoint" } else { "suricata" }.into()];
        i.display_name = Some(format!("{} on host-{n}", if n % 2 == 0 { "Ransomware" } else { "Phishing" }));
        i.impacted_assets.devices.names = vec![format!("LAPTOP-{n}")];
        i.alert_count = n as u64;
        out.push(i);
    }
    out
}

async fn ids(store: &dyn Store, query: &IncidentQuery) -> Vec<i64> {
    let mut query = query.clone();
    query.top = 50;
    let page = store.query_incidents(&query).await.unwrap();
    assert_eq!(store.count_incidents(&query).await.unwrap(), page.items.len() as u64, "count of {query:?}");
    page.items.iter().map(|i| i.id.get()).collect()
}

fn only(filter: Filter<IncidentField>) -> IncidentQuery {
    Query { filter, ..Query::default() }
}

fn cmp(field: IncidentField, op: Comparison, value: Value) -> Filter<IncidentField> {
    Filter::Compare { field, op, value }
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

/// Every filter node selects the same incidents on every backend, nulls and negation included.
pub async fn incident_filters_select_the_same_rows(store: &dyn Store) {
    store.write(WriteBatch { incidents: queue(), ..Default::default() }).await.unwrap();
    use Comparison::*;
    use IncidentField as F;
    let high = Value::Int(AlertSeverity::High.rank());
    let cases: Vec<(Filter<F>, Vec<i64>)> = vec![
        (Filter::True, vec![1, 2, 3, 4, 5, 6, 7, 8]),
        (cmp(F::Status, Eq, Value::Text("active".into())), vec![3, 6]),
        (cmp(F::Status, Ne, Value::Text("active".into())), vec![1, 2, 4, 5, 7, 8]),
        (cmp(F::Severity, Eq, high.clone()), vec![2, 6]),
        (cmp(F::Severity, Ge, Value::Int(AlertSeverity::Medium.rank())), vec![1, 2, 5, 6]),
        (cmp(F::Severity, Lt, Value::Int(AlertSeverity::Low.rank())), vec![3, 7]),
        (cmp(F::LastActivityDateTime, Gt, Value::Int(at(50).micros())), vec![6, 7, 8]),
        (cmp(F::LastActivityDateTime, Le, Value::Int(at(20).micros())), vec![1, 2]),
        (cmp(F::AlertCount, Ge, Value::Int(7)), vec![7, 8]),
        (cmp(F::Id, Eq, Value::Int(4)), vec![4]),
        (cmp(F::AssignedTo, Eq, Value::Text("analyst2@contoso.com".into())), vec![2, 6]),
        (cmp(F::AssignedTo, Ne, Value::Text("analyst2@contoso.com".into())), vec![1, 3, 4, 5, 7, 8]),
        (Filter::IsNull { field: F::AssignedTo }, vec![1, 3, 5, 7]),
        (Filter::Not(Box::new(Filter::IsNull { field: F::AssignedTo })), vec![2, 4, 6, 8]),
        // A null classification is not "truePositive", so negating the comparison selects it.
        (Filter::Not(Box::new(cmp(F::Classification, Eq, Value::Text("truePositive".into())))), vec![1, 2, 4, 5, 7, 8]),
        (
            Filter::In { field: F::Status, values: vec![Value::Text("active".into()), Value::Text("resolved".into())] },
            vec![2, 3, 5, 6, 8],
        ),
        (Filter::Or(vec![cmp(F::Id, Eq, Value::Int(1)), cmp(F::Severity, Eq, high.clone())]), vec![1, 2, 6]),
        (
            Filter::And(vec![
                cmp(F::Severity, Eq, high),
                Filter::Not(Box::new(cmp(F::Status, Eq, Value::Text("active".into())))),
            ]),
            vec![2],
        ),
        (Filter::Text { field: F::DisplayName, how: TextMatch::Contains, fragment: "RANSOM".into() }, vec![2, 4, 6, 8]),
        (Filter::Text { field: F::DisplayName, how: TextMatch::EndsWith, fragment: "host-1".into() }, vec![1]),
        (Filter::Text { field: F::AssignedTo, how: TextMatch::StartsWith, fragment: "Analyst0".into() }, vec![4, 8]),
        (Filter::Facet { facet: Facet::CustomTags, values: FacetValues::In(vec!["vip".into()]) }, vec![1, 2]),
        (
            Filter::Facet { facet: Facet::CustomTags, values: FacetValues::In(vec!["vip".into(), "finance".into()]) },
            vec![1, 2, 3],
        ),
        (Filter::Facet { facet: Facet::CustomTags, values: FacetValues::Any }, vec![1, 2, 3]),
        (Filter::Facet { facet: Facet::CustomTags, values: FacetValues::NotIn(vec!["vip".into()]) }, vec![2, 3]),
        (
            Filter::Facet { facet: Facet::ServiceSources, values: FacetValues::In(vec!["suricata".into()]) },
            vec![5, 6, 7, 8],
        ),
        (Filter::Text { field: F::DisplayName, how: TextMatch::Contains, fragment: "100%_".into() }, vec![]),
        (
            Filter::Facet { facet: Facet::CustomTags, values: FacetValues::InAnyCase(vec!["VIP".into(), "x".into()]) },
            vec![1, 2],
        ),
        (Filter::Or(vec![]), vec![]),
    ];
    for (filter, expected) in cases {
        assert_eq!(sorted(ids(store, &only(filter.clone())).await), expected, "{filter:?}");
    }
}

/// Redirected incidents appear only when the filter asks about status.
pub async fn redirected_incidents_only_when_asked(store: &dyn Store) {
    let mut incidents = queue();
    incidents[0].status = IncidentStatus::Redirected;
    incidents[0].redirect_incident_id = Some(iid(2));
    store.write(WriteBatch { incidents, ..Default::default() }).await.unwrap();
    assert!(!ids(store, &Query::default()).await.contains(&1));
    let redirected = cmp(IncidentField::Status, Comparison::Eq, Value::Text("redirected".into()));
    assert_eq!(ids(store, &only(redirected)).await, vec![1]);
}

/// `$search`: every term must be in the name, be the id, or be part of an impacted asset's name.
pub async fn incident_search_finds_names_ids_and_assets(store: &dyn Store) {
    store.write(WriteBatch { incidents: queue(), ..Default::default() }).await.unwrap();
    let search = |terms: &[(&str, bool)]| IncidentQuery {
        search: terms.iter().map(|(t, negated)| SearchTerm { text: (*t).into(), negated: *negated }).collect(),
        ..Query::default()
    };
    assert_eq!(sorted(ids(store, &search(&[("ransomware", false)])).await), vec![2, 4, 6, 8]);
    assert_eq!(ids(store, &search(&[("7", false)])).await, vec![7]);
    assert_eq!(ids(store, &search(&[("laptop-3", false)])).await, vec![3]);
    assert_eq!(sorted(ids(store, &search(&[("ransomware", false), ("host-4", true)])).await), vec![2, 6, 8]);
    assert_eq!(ids(store, &search(&[("nothing-like-this", false)])).await, Vec::<i64>::new());
}

/// Facet counts: per value of each queue filter, over the incidents a query selects; when a limit
/// cuts the count short, it covers the newest and says so.
pub async fn facet_counts_follow_the_filter(store: &dyn Store) {
    store.write(WriteBatch { incidents: queue(), ..Default::default() }).await.unwrap();
    let count = |counts: &FacetCounts, property: Counted, value: Option<&str>| {
        counts.of(property).iter().find(|v| v.value.as_deref() == value).map_or(0, |v| v.count)
    };
    let all = store.incident_facet_counts(&Query::default(), 100).await.unwrap();
    assert_eq!((all.counted, all.complete()), (8, true));
    assert_eq!(count(&all, Counted::Facet(Facet::CustomTags), Some("vip")), 2);
    assert_eq!(count(&all, Counted::Facet(Facet::CustomTags), Some("finance")), 2);
    assert_eq!(count(&all, Counted::Facet(Facet::ServiceSources), Some("suricata")), 4);
    assert_eq!(count(&all, Counted::Severity, Some("high")), 2);
    assert_eq!(count(&all, Counted::Status, Some("resolved")), 3);
    assert_eq!(count(&all, Counted::AssignedTo, None), 4);
    assert_eq!(count(&all, Counted::AssignedTo, Some("analyst2@contoso.com")), 2);
    assert_eq!(count(&all, Counted::Classification, Some("truePositive")), 2);
    assert!(all.of(Counted::Facet(Facet::ImpactedAssets)).is_empty(), "asset names are for search");
    let by_count: Vec<u64> = all.of(Counted::Severity).iter().map(|v| v.count).collect();
    assert!(by_count.windows(2).all(|w| w[0] >= w[1]), "most frequent first: {by_count:?}");

    let vip = only(Filter::Facet { facet: Facet::CustomTags, values: FacetValues::In(vec!["vip".into()]) });
    let counts = store.incident_facet_counts(&vip, 100).await.unwrap();
    assert_eq!(counts.counted, 2);
    assert_eq!(count(&counts, Counted::Facet(Facet::CustomTags), Some("finance")), 1);
    assert_eq!(count(&counts, Counted::Facet(Facet::ServiceSources), Some("suricata")), 0);

    // The newest three are 8, 7 and 6.
    let newest = store.incident_facet_counts(&Query::default(), 3).await.unwrap();
    assert_eq!((newest.counted, newest.complete()), (3, false));
    assert_eq!(count(&newest, Counted::Facet(Facet::ServiceSources), Some("suricata")), 3);
}

/// Reads every page of a query, following cursors.
async fn all_pages(store: &dyn Store, mut query: IncidentQuery) -> Vec<Incident> {
    let mut out = Vec::new();
    loop {
        let page = store.query_incidents(&query).await.unwrap();
        assert!(page.items.len() <= query.top as usize);
        out.extend(page.items);
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => return out,
        }
    }
}

/// Several keys, enums by rank, mixed directions, and the id tie-break; paging by cursor reads the
/// same order as one big page.
pub async fn incident_orders_page_by_cursor(store: &dyn Store) {
    store.write(WriteBatch { incidents: queue(), ..Default::default() }).await.unwrap();
    let by_severity = IncidentQuery {
        order: vec![
            OrderKey { field: IncidentField::Severity, descending: true },
            OrderKey { field: IncidentField::AssignedTo, descending: false },
        ],
        top: 3,
        ..Query::default()
    };
    let got: Vec<i64> = all_pages(store, by_severity.clone()).await.iter().map(|i| i.id.get()).collect();
    // high: 2 (analyst2), 6 (analyst2) → tie by id ascending; medium: 1 (none), 5 (none); low: 4 (analyst0),
    // 8 (analyst0); informational: 3, 7 (none).
    assert_eq!(got, vec![2, 6, 1, 5, 4, 8, 3, 7]);

    let by_status = IncidentQuery {
        order: vec![OrderKey { field: IncidentField::Status, descending: false }],
        top: 2,
        ..Query::default()
    };
    let statuses: Vec<i64> = all_pages(store, by_status).await.iter().map(|i| i.status.rank()).collect();
    assert!(statuses.windows(2).all(|w| w[0] <= w[1]), "status by rank: {statuses:?}");

    let by_name = IncidentQuery {
        order: vec![OrderKey { field: IncidentField::DisplayName, descending: true }],
        top: 3,
        ..Query::default()
    };
    let names: Vec<String> =
        all_pages(store, by_name).await.into_iter().map(|i| i.display_name.unwrap_or_default()).collect();
    let mut expected = names.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, expected);

    let skipped = IncidentQuery { skip: 2, top: 2, ..by_severity.clone() };
    let page = store.query_incidents(&skipped).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.id.get()).collect::<Vec<_>>(), vec![1, 5]);
    assert!(page.next.is_some());
    let wrong = IncidentQuery { after: Some(Cursor(vec![Value::Int(1)])), ..by_severity };
    assert!(store.query_incidents(&wrong).await.is_err());
}

/// The default order (newest activity first) pages by cursor without repeats or gaps while newer
/// incidents keep arriving.
pub async fn default_order_is_stable_while_incidents_arrive(store: &dyn Store) {
    store.write(WriteBatch { incidents: queue(), ..Default::default() }).await.unwrap();
    let mut query = IncidentQuery { top: 3, ..Query::default() };
    let mut seen = Vec::new();
    let mut next_id = 100;
    loop {
        let page = store.query_incidents(&query).await.unwrap();
        seen.extend(page.items.iter().map(|i| i.id.get()));
        // A newer incident arrives between pages: it sorts before the cursor, so is not read.
        store
            .write(WriteBatch { incidents: vec![incident(next_id, 1000 + next_id)], ..Default::default() })
            .await
            .unwrap();
        next_id += 1;
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, vec![8, 7, 6, 5, 4, 3, 2, 1]);
}

/// Alerts filter on their columns, search their titles, order by rank and page by arrival while
/// more arrive.
pub async fn alert_queries_filter_order_and_page(store: &dyn Store) {
    let mut alerts = Vec::new();
    for n in 0..12i64 {
        let mut a = alert(&format!("q-{n}"), "host", "user", n);
        a.severity = [AlertSeverity::Low, AlertSeverity::High, AlertSeverity::Medium][(n as usize) % 3];
        alerts.push(stored(a, 1 + n % 2));
    }
    store.write(WriteBatch { alerts, ..Default::default() }).await.unwrap();
    let count = |q: AlertQuery| async move { store.count_alerts(&q).await.unwrap() };
    let of_incident = Filter::Compare { field: AlertField::IncidentId, op: Comparison::Eq, value: Value::Int(2) };
    assert_eq!(count(Query { filter: of_incident.clone(), ..Query::default() }).await, 6);
    let high = Filter::Compare {
        field: AlertField::Severity,
        op: Comparison::Eq,
        value: Value::Int(AlertSeverity::High.rank()),
    };
    assert_eq!(count(Query { filter: high, ..Query::default() }).await, 4);
    let new = Filter::In { field: AlertField::Status, values: vec![Value::Text("new".into())] };
    assert_eq!(count(Query { filter: new, ..Query::default() }).await, 12);
    let title = vec![SearchTerm { text: "thing q-11".into(), negated: false }];
    assert_eq!(count(Query { search: title, ..Query::default() }).await, 1);
    assert!(AlertField::Title.column().text);

    let by_severity = AlertQuery {
        order: vec![OrderKey { field: AlertField::Severity, descending: true }],
        top: 5,
        ..Query::default()
    };
    let page = store.query_alerts(&by_severity).await.unwrap();
    assert!(page.items.iter().take(4).all(|a| a.alert.severity == AlertSeverity::High));

    // Default order, newest activity first, while alerts keep arriving between pages.
    let mut query = AlertQuery { top: 5, filter: of_incident, ..Query::default() };
    let mut seen = Vec::new();
    let mut extra = 0;
    loop {
        let page = store.query_alerts(&query).await.unwrap();
        seen.extend(page.items.iter().map(|a| a.alert.provider_alert_id.clone().unwrap_or_default()));
        extra += 1;
        let late = stored(alert(&format!("late-{extra}"), "host", "user", 500 + extra), 2);
        store.write(WriteBatch { alerts: vec![late], ..Default::default() }).await.unwrap();
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    let expected: Vec<String> = (0..12).rev().filter(|n| n % 2 == 1).map(|n| format!("q-{n}")).collect();
    assert_eq!(seen, expected);
}
