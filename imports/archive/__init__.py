"""The archive of uploaded files: `storage` holds where files go (Google Drive or a local folder), `workflow`
holds what happens to an ended job's file (handed over, archived, re-tried, given up)."""
