//! [`RoutedClient::complete_request`]: routed execution of a chat request as it arrives
//! (features `request` and `runtime`).

use super::{KindClassifier, RequestAnalyzer};
use crate::provider::ChatRequest;
use crate::runtime::{RequestOptions, RoutedClient, RoutedError, RoutedResponse};
use crate::task::TaskSpec;

impl RoutedClient {
    /// Sends a chat request routed by the task it describes ([`TaskSpec::from_request`]):
    /// [`complete`](RoutedClient::complete) with that task.
    ///
    /// # Errors
    /// As [`complete`](RoutedClient::complete).
    #[cfg_attr(docsrs, doc(cfg(all(feature = "request", feature = "runtime"))))]
    pub async fn complete_request(
        &self,
        request: &ChatRequest,
        opts: RequestOptions,
    ) -> Result<RoutedResponse, RoutedError> {
        self.complete(&TaskSpec::from_request(request), request, opts)
            .await
    }

    /// [`complete_request`](Self::complete_request) with a caller's [`RequestAnalyzer`] (its
    /// classifier, token counter, fallback kind and fixed values).
    ///
    /// # Errors
    /// As [`complete`](RoutedClient::complete).
    #[cfg_attr(docsrs, doc(cfg(all(feature = "request", feature = "runtime"))))]
    pub async fn complete_request_with<C: KindClassifier>(
        &self,
        request: &ChatRequest,
        analyzer: &RequestAnalyzer<C>,
        opts: RequestOptions,
    ) -> Result<RoutedResponse, RoutedError> {
        self.complete(&analyzer.task(request), request, opts).await
    }
}
