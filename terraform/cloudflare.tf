# Cloudflare: public DNS records and the R2 bucket for backups. The records
# are proxied by default (dns_proxied): the zone's SSL/TLS encryption mode
# must be Full (strict), a zone setting this configuration leaves alone
# because the zone usually serves other hosts too (docs/deploy.md).

data "cloudflare_zone" "this" {
  name = var.cloudflare_zone
}

locals {
  # Every public hostname points at the load balancer (loadbalancer.tf),
  # which spreads the connections over Traefik on the managers.
  ingress_ipv4 = hcloud_load_balancer.ingress.ipv4
  ingress_ipv6 = hcloud_load_balancer.ingress.ipv6
}

resource "cloudflare_record" "public_a" {
  for_each = var.dns_names

  zone_id = data.cloudflare_zone.this.id
  name    = each.value
  type    = "A"
  content = local.ingress_ipv4
  ttl     = var.dns_proxied ? 1 : 300
  proxied = var.dns_proxied
  comment = "${var.project_name}: load balancer -> Traefik (terraform)"
}

resource "cloudflare_record" "public_aaaa" {
  for_each = var.dns_names

  zone_id = data.cloudflare_zone.this.id
  name    = each.value
  type    = "AAAA"
  content = local.ingress_ipv6
  ttl     = var.dns_proxied ? 1 : 300
  proxied = var.dns_proxied
  comment = "${var.project_name}: load balancer -> Traefik (terraform)"
}

# Backups bucket. Provider 4.x has no resource for R2 lifecycle rules, so the
# expiry rule is applied once with the S3 API (see docs/deploy.md, "Backup
# retention"). R2 S3 credentials are created in the dashboard (R2 > Manage API
# tokens) and stored in the Ansible vault, not in Terraform state.
resource "cloudflare_r2_bucket" "backups" {
  account_id = var.cloudflare_account_id
  name       = var.r2_bucket_name
  location   = var.r2_location
}
