# The smallest complete setup: a customer key in Vault/OpenBao Transit, a keyring of data keys
# bound to it, a Temporal cluster sized by the calculator, and the codec server that decrypts
# payloads for the Web UI. Set VAULT_ADDR-reachable values in terraform.tfvars and pass the Vault
# token as TF_VAR_vault_token (an ephemeral variable: it never reaches the plan or state).
# The `keyring` output (wrapped data keys only) is what workers and a codec server outside the
# cluster read. `scripts/demo` applies this module to the Kubernetes API test server.

terraform {
  required_version = ">= 1.11"
  required_providers {
    engram = {
      source = "engram/engram"
    }
  }
}

variable "kubeconfig" {
  description = "Path of the kubeconfig for the target cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "vault_address" {
  description = "Vault or OpenBao address with the Transit engine mounted at transit/."
  type        = string
}

variable "vault_token" {
  description = "A Vault token allowed to use transit/keys/temporal-payloads."
  type        = string
  sensitive   = true
  ephemeral   = true
}

provider "engram" {
  default_namespace = "temporal"
  kubernetes {
    config_path = var.kubeconfig
  }
}

data "engram_history_shards" "this" {
  peak_workflows_per_second = 50
  environment               = "prod"
}

resource "engram_cmk_binding" "payloads" {
  scope = "temporal-payloads"
  vault_transit {
    address  = var.vault_address
    key_name = "temporal-payloads"
    token    = var.vault_token
  }
}

resource "engram_temporal_cluster" "temporal" {
  name                = "temporal"
  version             = "1.32.0"
  history_shard_count = data.engram_history_shards.this.history_shard_count

  persistence = {
    default = {
      host            = "postgres.databases.svc"
      database        = "temporal"
      user            = "temporal"
      password_secret = { name = "temporal-postgres", key = "password" }
      tls             = { ca = { kind = "ConfigMap", name = "postgres-ca", key = "ca.crt" } }
    }
    visibility = {
      host            = "postgres.databases.svc"
      database        = "temporal_visibility"
      user            = "temporal"
      password_secret = { name = "temporal-postgres", key = "password" }
      tls             = { ca = { kind = "ConfigMap", name = "postgres-ca", key = "ca.crt" } }
    }
  }
}

resource "engram_codec_server" "codec" {
  name             = "codec"
  temporal_cluster = engram_temporal_cluster.temporal.name
  keyring          = engram_cmk_binding.payloads.keyring
  kms = {
    provider = "vault"
    env      = { VAULT_ADDR = var.vault_address }
  }
  tls_secret_name = "codec-tls"
  cors_origins    = ["https://temporal.example.com"]
  oidc = {
    issuer    = "https://login.example.com"
    jwks_url  = "https://login.example.com/.well-known/jwks.json"
    audiences = ["temporal-codec"]
  }
}

output "frontend_address" {
  value = engram_temporal_cluster.temporal.frontend_address
}

output "codec_endpoint" {
  value = engram_codec_server.codec.endpoint
}

output "keyring" {
  description = "The keyring document for workers and a codec server run outside the cluster: wrapped data keys only, safe to store."
  value       = engram_cmk_binding.payloads.keyring
}
