//! Destroy: delete everything labelled for an owner (dependents before the namespace), then
//! confirm by listing again that nothing is left.

use super::client::Deployer;
use super::error::DeployError;
use super::labels::Owner;
use super::manifest::ObjectId;
use super::progress::{Progress, ProgressEvent};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

impl Deployer {
    /// Deletes every object of `owner` and waits up to `timeout` until none is listed. Returns
    /// what was deleted.
    pub async fn destroy(
        &self,
        owner: &Owner,
        timeout: Duration,
        poll_interval: Duration,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Vec<ObjectId>, DeployError> {
        let deadline = Instant::now() + timeout;
        let inventory = self.inventory(owner).await?;
        let mut ids: Vec<ObjectId> = inventory.objects.into_keys().collect();
        ids.sort_by_key(|id| std::cmp::Reverse(id.kind));
        for id in &ids {
            self.delete_object(id, cancel).await?;
            progress.report(&ProgressEvent::Deleted(id.clone()));
        }
        loop {
            let left = self.inventory(owner).await?;
            if left.objects.is_empty() {
                return Ok(ids);
            }
            if Instant::now() >= deadline {
                let remaining: Vec<String> = left.objects.keys().map(ToString::to_string).collect();
                return Err(DeployError::DestroyIncomplete {
                    remaining: remaining.join(", "),
                });
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err(DeployError::Cancelled { during: "destroy".into() }),
                _ = tokio::time::sleep(poll_interval) => {}
            }
        }
    }
}
