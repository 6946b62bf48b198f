# Remote state in S3 with S3-native locking. The bucket, key and region differ per environment
# and are passed at init time (see infra/README.md and .github/workflows/terraform.yml):
#   terraform init -backend-config="bucket=<state bucket>" \
#                  -backend-config="key=clickstream/<environment>.tfstate" \
#                  -backend-config="region=<region>"
terraform {
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
