# A production cluster: shard count from measured load, JWT authorization, three replicas of
# each server role, and deletion protection (on by default) so neither a destroy nor a change
# of history_shard_count can remove the cluster by accident. AWS KMS holds the customer key;
# credentials come from the AWS SDK's chain (environment, profile, web identity).

terraform {
  required_version = ">= 1.5"
  required_providers {
    engram = {
      source = "engram/engram"
    }
  }
}

variable "temporal_ca_pem" {
  description = "PEM CA certificate of the Temporal frontend."
  type        = string
}

provider "engram" {
  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "prod-eu"
  }
  temporal {
    address        = "temporal-frontend.temporal-prod:7233"
    ca_certificate = var.temporal_ca_pem
  }
}

data "engram_history_shards" "prod" {
  peak_workflows_per_second      = 1000
  state_transitions_per_workflow = 20
  peak_open_workflows            = 2000000
  persistence_write_latency_ms   = 5
  environment                    = "prod"
}

resource "engram_cmk_binding" "payloads" {
  scope                     = "prod-payloads"
  rotate_after_days         = 90
  namespace_retention_days  = 30
  longest_workflow_run_days = 60
  decrypt_window_days       = 120
  aws_kms {
    key_id = "alias/temporal-payloads"
    region = "eu-west-1"
  }
}

resource "engram_temporal_cluster" "prod" {
  name                = "prod"
  namespace           = "temporal-prod"
  version             = "1.32.0"
  history_shard_count = data.engram_history_shards.prod.history_shard_count

  services = {
    frontend = { replicas = 3 }
    history  = { replicas = data.engram_history_shards.prod.history_pods }
    matching = { replicas = 3 }
    worker   = { replicas = 2 }
  }

  persistence = {
    default = {
      host            = "temporal-db.example.internal"
      database        = "temporal"
      user            = "temporal"
      password_secret = { name = "temporal-db", key = "password" }
      max_conns       = 50
      tls             = { mode = "verify-full", ca = { kind = "Secret", name = "temporal-db-ca", key = "ca.crt" } }
    }
    visibility = {
      host            = "temporal-db.example.internal"
      database        = "temporal_visibility"
      user            = "temporal"
      password_secret = { name = "temporal-db", key = "password" }
      tls             = { mode = "verify-full", ca = { kind = "Secret", name = "temporal-db-ca", key = "ca.crt" } }
    }
  }

  authorization = {
    jwt_key_source_uris    = ["https://login.example.com/realms/temporal/protocol/openid-connect/certs"]
    permissions_claim_name = "permissions"
  }

  # The internal frontend that authorization brings admits only mutual-TLS callers.
  tls = {
    internode = { source = "existing_secret", secret_name = "temporal-internode-tls" }
  }

  # The admin tools' `temporal` CLI presents this token to the JWT-checking frontend.
  admin_tools = {
    api_key_secret = { name = "temporal-admin-token", key = "token" }
  }

  web_ui = {
    codec_endpoint          = "https://codec.temporal.example.com"
    codec_pass_access_token = true
  }

  timeouts {
    create = "45m"
    update = "45m"
  }
}

resource "engram_codec_server" "codec" {
  name             = "codec"
  namespace        = engram_temporal_cluster.prod.namespace
  temporal_cluster = engram_temporal_cluster.prod.name
  keyring          = engram_cmk_binding.payloads.keyring
  kms = {
    provider          = "aws"
    env               = { ENGRAM_CODEC_AWS_KMS_KEY = "alias/temporal-payloads", AWS_REGION = "eu-west-1" }
    workload_identity = { aws_role_arn = "arn:aws:iam::123456789012:role/engram-codec" }
  }
  tls_secret_name = "codec-tls"
  cors_origins    = ["https://temporal.example.com"]
  oidc = {
    issuer    = "https://login.example.com/realms/temporal"
    jwks_url  = "https://login.example.com/realms/temporal/protocol/openid-connect/certs"
    audiences = ["temporal-ui"]
  }
}

# The payments workers run in their own Kubernetes namespace: they mount this Secret at
# /etc/engram/keyring and reload it, so a rotation reaches them before the new key seals
# (docs/guides/keys-and-kms.md, "Getting the keyring to worker namespaces").
resource "engram_keyring_secret" "payments_workers" {
  name      = "engram-keyring"
  namespace = "payments-workers"
  keyring   = engram_cmk_binding.payloads.keyring
}

resource "engram_temporal_namespace" "payments" {
  name           = "payments"
  description    = "Payment workflows"
  owner_email    = "payments@example.com"
  retention_days = 30
  codec_endpoint = "https://codec.temporal.example.com"
  cmk_binding_id = engram_cmk_binding.payloads.id
}

data "engram_temporal_cluster_info" "live" {
  depends_on = [engram_temporal_cluster.prod]
}

output "live_history_shard_count" {
  description = "What the running cluster reports; it must equal history_shard_count."
  value       = data.engram_temporal_cluster_info.live.history_shard_count
}
