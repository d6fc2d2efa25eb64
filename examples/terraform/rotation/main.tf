# Data key rotation with a dual-key window. Every `terraform plan` checks the age of the sealing
# data key: once rotate_after_days have passed, the plan shows an in-place update ("Key
# maintenance planned: rotate data key ..."); apply adds a new key that stays pending for
# activation_delay_seconds before writers seal with it, and the old key keeps decrypting for
# decrypt_window_days, then is retired. The workers' keyring Secret follows each change, and
# the workers reload it, so every reader has the new key before any writer uses it.

terraform {
  required_version = ">= 1.11"
  required_providers {
    engram = {
      source = "engram/engram"
    }
  }
}

variable "vault_address" {
  type = string
}

variable "vault_token" {
  type      = string
  sensitive = true
  ephemeral = true
}

provider "engram" {}

resource "engram_cmk_binding" "payloads" {
  scope                     = "payments"
  rotate_after_days         = 30
  namespace_retention_days  = 14
  longest_workflow_run_days = 7
  decrypt_window_days       = 21

  # Retire a replaced key before its window ends only if no history still needs it; the
  # provider refuses ids still inside their window.
  retire_key_ids = []

  vault_transit {
    address  = var.vault_address
    key_name = "payments"
    token    = var.vault_token
  }
}

# The workers of the payments namespace mount this Secret and reload it.
resource "engram_keyring_secret" "workers" {
  name      = "engram-keyring"
  namespace = "payments-workers"
  keyring   = engram_cmk_binding.payloads.keyring
}

output "primary_key_id" {
  value = engram_cmk_binding.payloads.primary_key_id
}

output "next_rotation_at" {
  value = engram_cmk_binding.payloads.next_rotation_at
}

output "decrypting_key_ids" {
  value = engram_cmk_binding.payloads.key_ids
}
