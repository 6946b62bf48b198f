terraform {
  # 1.10 brings S3-native state locking (use_lockfile), so no DynamoDB lock table is needed.
  required_version = ">= 1.10.0"

  # The 5.x line from 5.100.0: the version `terraform validate` and `terraform test` check here
  # (.terraform.lock.hcl pins it). 6.x renames attributes this code uses (aws_region's `name`).
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
