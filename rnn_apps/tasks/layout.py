"""Names of what a run writes and reads: the saved pipeline, the export, the report, backups.

DIR/pipeline/pipeline.json   the saved pipeline's state (`Task.save`)
DIR/saved_model/             the verified SavedModel (`Task.export`)
DIR/report.json              metrics, baselines, timings, the command
DIR/backup/                  `BackupAndRestore` checkpoints while a fit runs, and run.json
"""

STATE_FILE = "pipeline.json"
PIPELINE_DIR = "pipeline"
SAVED_MODEL_DIR = "saved_model"
REPORT_FILE = "report.json"
BACKUP_DIR = "backup"
#: The configuration of the run whose backups `BACKUP_DIR` holds.
BACKUP_RUN_FILE = "run.json"
