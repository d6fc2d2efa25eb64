# Temporal and the codec server behind Microsoft Entra ID: people sign in to the Web UI with
# the UI app registration, and the access token it gets is issued for the API app registration,
# whose app roles (values such as "orders:read", "orders:write", "temporal-system:admin") arrive
# in the token's `roles` claim. Temporal's default authorizer and the codec server both read
# that claim. The app registrations, their roles and assignments are made in Entra ID; see
# docs/guides/entra-id.md. The customer key is in Azure Key Vault.
#
# The variables are declared here so the module is one file. Before applying, create in the
# namespace temporal-prod: the UI client secret (var.ui_client_secret_name), the database
# password Secret `temporal-db`, the internode TLS Secret `temporal-internode-tls`, and the TLS
# Secrets for both hosts.

terraform {
  required_version = ">= 1.5"
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

variable "kube_context" {
  description = "The kubeconfig context of the target cluster."
  type        = string
}

variable "tenant_id" {
  description = "The Microsoft Entra tenant id (a GUID): issuer https://login.microsoftonline.com/<tenant_id>/v2.0."
  type        = string
}

variable "api_client_id" {
  description = "Application (client) id of the API app registration: the audience of v2.0 access tokens, and the app whose app roles (orders:read, temporal-system:admin, ...) users are assigned."
  type        = string
}

variable "api_scope" {
  description = "The delegated scope the API app exposes; the Web UI requests api://<api_client_id>/<api_scope> so its access token is issued for the API."
  type        = string
  default     = "access"
}

variable "ui_client_id" {
  description = "Application (client) id of the UI app registration the Web UI signs in with."
  type        = string
}

variable "ui_client_secret_name" {
  description = "Kubernetes Secret, in the cluster's namespace, holding the UI app's client secret."
  type        = string
  default     = "temporal-ui-oidc"
}

variable "ui_client_secret_key" {
  description = "Key of the client secret in that Secret."
  type        = string
  default     = "client-secret"
}

variable "ui_host" {
  description = "Host name of the Web UI, e.g. temporal.example.com; the UI app's redirect URI is https://<ui_host>/auth/sso/callback."
  type        = string
}

variable "ui_tls_secret_name" {
  description = "Secret with tls.crt and tls.key for ui_host, terminated by the ingress controller."
  type        = string
  default     = "temporal-ui-tls"
}

variable "codec_host" {
  description = "Host name of the codec server, e.g. codec.temporal.example.com."
  type        = string
}

variable "codec_tls_secret_name" {
  description = "Secret with tls.crt and tls.key the codec server's pods serve HTTPS with."
  type        = string
  default     = "codec-tls"
}

variable "key_vault_url" {
  description = "Azure Key Vault holding the customer key, https://NAME.vault.azure.net."
  type        = string
}

variable "key_vault_key_name" {
  description = "The RSA key in that vault that wraps the data keys."
  type        = string
  default     = "temporal-payloads"
}

variable "codec_identity_client_id" {
  description = "Client id of the user-assigned managed identity the codec server's pods use (Azure workload identity) to unwrap keys."
  type        = string
}

variable "database_host" {
  description = "PostgreSQL host of the default and visibility stores."
  type        = string
}

variable "temporal_ca_pem" {
  description = "PEM CA of the frontend's certificate."
  type        = string
}

variable "temporal_api_key" {
  description = "An Entra access token for the API app with the temporal-system:admin role, e.g. from `az account get-access-token --resource api://<api-client-id>`; leave null to use TEMPORAL_API_KEY."
  type        = string
  sensitive   = true
  default     = null
}

# With `authorization` on, the frontend answers only callers that present a token: the
# provider's own calls (engram_temporal_namespace) carry `api_key`.
provider "engram" {
  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.kube_context
  }
  temporal {
    address        = "prod-frontend.temporal-prod.svc:7233"
    ca_certificate = var.temporal_ca_pem
    api_key        = var.temporal_api_key
  }
}

locals {
  # v2.0 tokens (the API app's manifest has requestedAccessTokenVersion = 2).
  issuer   = "https://login.microsoftonline.com/${var.tenant_id}/v2.0"
  jwks_url = "https://login.microsoftonline.com/${var.tenant_id}/discovery/v2.0/keys"
}

data "engram_history_shards" "prod" {
  peak_workflows_per_second = 500
  environment               = "prod"
}

resource "engram_cmk_binding" "payloads" {
  scope                     = "prod-payloads"
  rotate_after_days         = 90
  namespace_retention_days  = 30
  longest_workflow_run_days = 30
  azure_key_vault {
    vault_url = var.key_vault_url
    key_name  = var.key_vault_key_name
  }
}

resource "engram_temporal_cluster" "prod" {
  name                = "prod"
  namespace           = "temporal-prod"
  version             = "1.32.0"
  history_shard_count = data.engram_history_shards.prod.history_shard_count

  persistence = {
    default = {
      host            = var.database_host
      database        = "temporal"
      user            = "temporal"
      password_secret = { name = "temporal-db", key = "password" }
    }
    visibility = {
      host            = var.database_host
      database        = "temporal_visibility"
      user            = "temporal"
      password_secret = { name = "temporal-db", key = "password" }
    }
  }

  # Temporal's default claim mapper and authorizer: permissions `<namespace>:<role>` in `roles`,
  # tokens for the API app only.
  authorization = {
    jwt_key_source_uris    = [local.jwks_url]
    refresh_interval       = "1m"
    permissions_claim_name = "roles"
    audience               = var.api_client_id
  }

  # The internal frontend that authorization brings admits only mutual-TLS callers.
  tls = {
    internode = { source = "existing_secret", secret_name = "temporal-internode-tls" }
  }

  # An Entra access token expires within hours, so a token kept in a Secret for the admin tools
  # would go stale; run `temporal operator` with your own token instead.
  admin_tools = {
    enabled = false
  }

  web_ui = {
    # The codec server's `endpoint` is https://<its ingress host>; written out here because the
    # codec server refers to this cluster.
    codec_endpoint          = "https://${var.codec_host}"
    codec_pass_access_token = true
    oidc = {
      provider_url  = local.issuer
      client_id     = var.ui_client_id
      client_secret = { name = var.ui_client_secret_name, key = var.ui_client_secret_key }
      callback_url  = "https://${var.ui_host}/auth/sso/callback"
      # The API scope makes the access token one for the API app, carrying its roles;
      # offline_access gives the UI a refresh token.
      scopes = ["openid", "profile", "email", "offline_access", "api://${var.api_client_id}/${var.api_scope}"]
    }
    ingress = {
      host            = var.ui_host
      class_name      = "nginx"
      tls_secret_name = var.ui_tls_secret_name
    }
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
    provider = "azure"
    env = {
      ENGRAM_CODEC_AZURE_VAULT_URL = var.key_vault_url
      ENGRAM_CODEC_AZURE_KEY_NAME  = var.key_vault_key_name
    }
    workload_identity = { azure_client_id = var.codec_identity_client_id }
  }

  tls_secret_name = var.codec_tls_secret_name
  cors_origins    = ["https://${var.ui_host}"]

  # The same access token the Web UI forwards to Temporal: issuer and keys of the tenant,
  # audience the API app, permissions in `roles`.
  oidc = {
    issuer            = local.issuer
    jwks_url          = local.jwks_url
    audiences         = [var.api_client_id]
    permissions_claim = "roles"
  }

  # Browsers reach the codec server through the ingress controller.
  ingress_controller = {
    namespace  = "ingress-nginx"
    pod_labels = { "app.kubernetes.io/name" = "ingress-nginx" }
  }
  ingress = {
    host        = var.codec_host
    class_name  = "nginx"
    annotations = { "nginx.ingress.kubernetes.io/backend-protocol" = "HTTPS" }
  }
}

# Created through the frontend with the provider's token; the codec endpoint makes it wait for
# the codec server, which waits for the cluster.
resource "engram_temporal_namespace" "orders" {
  name           = "orders"
  description    = "Order workflows; roles orders:read, orders:write, orders:admin"
  retention_days = 30
  codec_endpoint = engram_codec_server.codec.endpoint
}

output "web_ui_url" {
  description = "Where people sign in."
  value       = "https://${var.ui_host}"
}

output "codec_endpoint" {
  description = "The codec server's URL, for `temporal --codec-endpoint` as well."
  value       = engram_codec_server.codec.endpoint
}

output "redirect_uri" {
  description = "Register this on the UI app's Web platform in Entra ID."
  value       = "https://${var.ui_host}/auth/sso/callback"
}
