output "database_name" {
  description = "Name of the Glue Data Catalog database."
  value       = aws_glue_catalog_database.this.name
}

output "table_names" {
  description = "Names of the registered Delta tables."
  value       = [for table in aws_glue_catalog_table.delta : table.name]
}
