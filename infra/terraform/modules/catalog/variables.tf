variable "database_name" {
  description = "Name of the Glue Data Catalog database (letters, digits, underscores)."
  type        = string
}

variable "lake_bucket" {
  description = "Bucket that holds the Delta tables."
  type        = string
}

variable "delta_tables" {
  description = "Delta tables to register: table name => path under the lake bucket."
  type        = map(string)
}

variable "manage_catalog_encryption" {
  description = "Whether this stack owns the account's (per-region) Data Catalog encryption settings."
  type        = bool
}

variable "data_key_arn" {
  description = "KMS key ARN that encrypts the catalog's metadata and connection passwords."
  type        = string
}
