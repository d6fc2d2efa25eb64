# A production cluster: shard count from measured load, JWT authorization, TLS on every hop,
# sign-in to the Web UI, ingresses for the UI and the codec server, three replicas of each server
# role, and deletion protection (on by default) so neither a destroy nor a change of
# history_shard_count can remove the cluster by accident. AWS KMS holds the customer key;
# credentials come from the AWS SDK's chain (environment, profile, web identity).

terraform {
  required_version = ">= 1.5"
  required_providers {
    engram = {
      source = "engram/engram"
    }
  }
}

variable "kubeconfig" {
  description = "The kubeconfig of the cluster Temporal runs in."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "Its context."
  type        = string
  default     = "prod-eu"
}

variable "temporal_address" {
  description = "The frontend the provider manages namespaces through: the cluster's own, as this configuration deploys it."
  type        = string
  default     = "prod-frontend.temporal-prod.svc:7233"
}

variable "temporal_ca_pem" {
  description = "PEM CA certificate of the Temporal frontend (the CA of the temporal-frontend-tls Secret)."
  type        = string
}

variable "temporal_api_key" {
  description = "A token from the identity provider with the temporal-system:admin permission, for the provider's namespace management; leave null to use TEMPORAL_API_KEY."
  type        = string
  sensitive   = true
  default     = null
}

provider "engram" {
  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.kube_context
  }
  temporal {
    address        = var.temporal_address
    ca_certificate = var.temporal_ca_pem
    api_key        = var.temporal_api_key
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
  name      = "prod"
  namespace = "temporal-prod"
  version   = "1.32.0"
  # The codec server, applied first so the Web UI can name its endpoint, created the namespace.
  create_namespace    = false
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

  # The internal frontend that authorization brings admits only mutual-TLS callers; clients
  # reach the frontend over TLS.
  tls = {
    internode = { source = "existing_secret", secret_name = "temporal-internode-tls" }
    frontend  = { source = "existing_secret", secret_name = "temporal-frontend-tls" }
  }

  # The admin tools' `temporal` CLI presents this token to the JWT-checking frontend.
  admin_tools = {
    api_key_secret = { name = "temporal-admin-token", key = "token" }
  }

  web_ui = {
    codec_endpoint          = engram_codec_server.codec.endpoint
    codec_pass_access_token = true
    oidc = {
      provider_url  = "https://login.example.com/realms/temporal"
      client_id     = "temporal-ui"
      client_secret = { name = "temporal-ui-oidc", key = "client-secret" }
      callback_url  = "https://temporal.example.com/auth/sso/callback"
    }
    ingress = {
      host            = "temporal.example.com"
      class_name      = "nginx"
      tls_secret_name = "temporal-ui-tls"
    }
  }

  network = {
    allowed_cidrs      = ["10.0.0.0/8"]
    ingress_controller = { namespace = "ingress-nginx", pod_labels = { "app.kubernetes.io/name" = "ingress-nginx" } }
  }

  timeouts {
    create = "45m"
    update = "45m"
  }
}

# Applied before the cluster, whose Web UI names its endpoint: it creates the namespace.
resource "engram_codec_server" "codec" {
  name             = "codec"
  namespace        = "temporal-prod"
  create_namespace = true
  temporal_cluster = "prod"
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
  tls_min_version    = "1.3"
  ingress_controller = { namespace = "ingress-nginx", pod_labels = { "app.kubernetes.io/name" = "ingress-nginx" } }
  ingress = {
    host        = "codec.temporal.example.com"
    class_name  = "nginx"
    annotations = { "nginx.ingress.kubernetes.io/backend-protocol" = "HTTPS" }
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
  codec_endpoint = engram_codec_server.codec.endpoint
  cmk_binding_id = engram_cmk_binding.payloads.id
  # Namespaces are registered through the cluster's frontend, so after it.
  depends_on = [engram_temporal_cluster.prod]
}

data "engram_temporal_cluster_info" "live" {
  depends_on = [engram_temporal_cluster.prod]
}

output "live_history_shard_count" {
  description = "What the running cluster reports; it must equal history_shard_count."
  value       = data.engram_temporal_cluster_info.live.history_shard_count
}
