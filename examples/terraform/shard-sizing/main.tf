# Size Temporal's history shards before the first apply of a cluster: the count can never
# change afterwards. Adjust the inputs to your own measurements.

terraform {
  required_providers {
    engram = {
      source = "engram/engram"
    }
  }
}

provider "engram" {}

variable "peak_workflows_per_second" {
  description = "Workflow starts per second at the busiest moment."
  type        = number
  default     = 1000
}

data "engram_history_shards" "prod" {
  peak_workflows_per_second      = var.peak_workflows_per_second
  state_transitions_per_workflow = 20
  peak_open_workflows            = 2000000
  persistence_write_latency_ms   = 5
  environment                    = "prod"
}

output "history_shard_count" {
  description = "Set this as engram_temporal_cluster.history_shard_count."
  value       = data.engram_history_shards.prod.history_shard_count
}

output "history_pods" {
  value = data.engram_history_shards.prod.history_pods
}

output "utilization_at_peak" {
  value = data.engram_history_shards.prod.utilization_at_peak
}

output "rationale" {
  value = data.engram_history_shards.prod.rationale
}
