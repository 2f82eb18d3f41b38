//! The query parameters every list shares: `limit` (default 30, `0` means the maximum of 200),
//! `skip` (default 0) and `count` (answer `{"<collection>": n}` instead of the items).

use crate::error::{ApiError, ApiResult};
use crate::messages;
use crate::request::Request;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListParams {
    pub limit: usize,
    pub skip: usize,
    pub count: bool,
}

impl ListParams {
    pub fn parse(
        req: &Request,
        collection: &str,
        default_limit: usize,
        max_limit: usize,
    ) -> ApiResult<Self> {
        let int = |param: &str| -> ApiResult<Option<i64>> {
            req.query(param)
                .map(|v| {
                    v.trim().parse::<i64>().map_err(|_| {
                        ApiError::malformed_query(param, &messages::not_an_integer(collection, v))
                    })
                })
                .transpose()
        };
        let skip = match int("skip")? {
            None => 0,
            Some(s) if s >= 0 => s as usize,
            Some(s) => {
                return Err(ApiError::malformed_query(
                    "skip",
                    &messages::list_skip_out_of_range(collection, s),
                ));
            }
        };
        let limit = match int("limit")? {
            None => default_limit,
            Some(0) => max_limit,
            Some(l) if l > 0 && l as usize <= max_limit => l as usize,
            Some(l) => {
                return Err(ApiError::malformed_query(
                    "limit",
                    &messages::list_limit_out_of_range(collection, l, max_limit),
                ));
            }
        };
        let count = req.bool_param("count", false)?;
        Ok(ListParams { limit, skip, count })
    }

    /// `{"<collection>": n}` for `count=true`: the total less what `skip` passes over.
    pub fn count_reply(&self, collection: &str, total: u64) -> serde_json::Value {
        serde_json::json!({ collection: total.saturating_sub(self.skip as u64) })
    }
}
