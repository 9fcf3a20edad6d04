//! The workspace lists a supervisor's SDK reads (`Workspace.fetchWorkers`,
//! `Workspace.fetchTaskQueues`), paged the SDK's way: `{contents, after_sid}`, or with
//! `Ordering` `{contents, meta: {next_token}}`, the next page asked for by `AfterSid` or
//! `NextToken`. Items come in creation order: Twilio does not document the `Ordering` values of
//! these lists, so one is accepted and only changes the paging shape.

use serde_json::{json, Map, Value};
use std::future::Future;

use switchyard_engine::{
    Page, PageRequest, TaskQueueFilter, TaskQueueQuery, WorkerFilter, WorkerQuery,
};

use super::payload;
use super::rpc::{param_sid, param_str, Refusal};
use crate::access_token::Grant;
use crate::AppState;

/// Items per page when the SDK names no `PageSize`, and the most it may ask for.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;

/// `GET /Workspaces/{WS}/Workers`, filtered by `FriendlyName`, `ActivitySid`, `ActivityName`
/// and `TargetWorkersExpression`.
pub(crate) async fn workers(
    st: &AppState,
    grant: &Grant,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let (account, ws) = (&grant.account, &grant.workspace);
    let query = WorkerQuery {
        filter: WorkerFilter {
            friendly_name: param_str(params, "FriendlyName"),
            activity_sid: param_sid(params, "ActivitySid")?,
            activity_name: param_str(params, "ActivityName"),
            ..WorkerFilter::default()
        },
        target_workers_expression: param_str(params, "TargetWorkersExpression"),
        ..WorkerQuery::default()
    };
    let all = every_page(|page| st.engine.list_workers(account, ws, &query, page)).await?;
    Ok(sdk_page(
        &all,
        params,
        |w| w.sid.as_str(),
        |w| payload::worker(account, w),
    ))
}

/// `GET /Workspaces/{WS}/TaskQueues`, filtered by `FriendlyName` and `WorkerSid` (the queues
/// the worker belongs to).
pub(crate) async fn task_queues(
    st: &AppState,
    grant: &Grant,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let (account, ws) = (&grant.account, &grant.workspace);
    let query = TaskQueueQuery {
        filter: TaskQueueFilter {
            friendly_name: param_str(params, "FriendlyName"),
        },
        worker_sid: param_sid(params, "WorkerSid")?,
        ..TaskQueueQuery::default()
    };
    let all = every_page(|page| st.engine.list_task_queues(account, ws, &query, page)).await?;
    Ok(sdk_page(
        &all,
        params,
        |q| q.sid.as_str(),
        |q| payload::task_queue(account, q),
    ))
}

/// Every item of an engine list, read page by page (`list` reads the page it is given).
async fn every_page<T, F, Fut>(mut list: F) -> Result<Vec<T>, Refusal>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = switchyard_engine::Result<Page<T>>>,
{
    let mut all = Vec::new();
    let mut page = PageRequest {
        size: MAX_PAGE_SIZE,
        ..PageRequest::default()
    };
    loop {
        let p = list(page).await?;
        all.extend(p.items.into_iter().map(|(_, item)| item));
        match p.next {
            Some(next) => page.cursor = next,
            None => return Ok(all),
        }
    }
}

/// The page of `all` the parameters ask for: after the item whose SID is `AfterSid` (or
/// `NextToken` with `Ordering`), `PageSize` long, with what asks for the next one.
fn sdk_page<T>(
    all: &[T],
    params: &Map<String, Value>,
    sid: impl Fn(&T) -> &str,
    render: impl Fn(&T) -> Value,
) -> Value {
    let ordered = param_str(params, "Ordering").is_some();
    let size = param_str(params, "PageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .map_or(DEFAULT_PAGE_SIZE, |n| n.clamp(1, MAX_PAGE_SIZE));
    let after = param_str(params, if ordered { "NextToken" } else { "AfterSid" });
    let start = after
        .and_then(|a| all.iter().position(|item| sid(item) == a).map(|i| i + 1))
        .unwrap_or(0);
    let shown = &all[start.min(all.len())..(start + size).min(all.len())];
    let next = (start + shown.len() < all.len())
        .then(|| shown.last().map(|item| sid(item).to_owned()))
        .flatten();
    let contents: Vec<Value> = shown.iter().map(render).collect();
    if ordered {
        json!({ "contents": contents, "meta": { "next_token": next } })
    } else {
        json!({ "contents": contents, "after_sid": next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect()
    }

    fn page(all: &[&str], pairs: &[(&str, &str)]) -> Value {
        sdk_page(all, &params(pairs), |s| s, |s| json!(s))
    }

    #[test]
    fn pages_follow_after_sid_or_next_token() {
        let all = ["a", "b", "c"];
        assert_eq!(
            page(&all, &[("PageSize", "2")]),
            json!({ "contents": ["a", "b"], "after_sid": "b" })
        );
        assert_eq!(
            page(&all, &[("PageSize", "2"), ("AfterSid", "b")]),
            json!({ "contents": ["c"], "after_sid": null })
        );
        assert_eq!(
            page(&all, &[("PageSize", "2"), ("Ordering", "DateCreated:asc")]),
            json!({ "contents": ["a", "b"], "meta": { "next_token": "b" } })
        );
        assert_eq!(
            page(
                &all,
                &[("PageSize", "2"), ("Ordering", "x"), ("NextToken", "b")]
            ),
            json!({ "contents": ["c"], "meta": { "next_token": null } })
        );
        // An unknown position starts over; sizes are bounded.
        assert_eq!(
            page(&all, &[("AfterSid", "zz"), ("PageSize", "0")]),
            json!({ "contents": ["a"], "after_sid": "a" })
        );
    }
}
