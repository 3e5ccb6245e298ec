-- The catalog as castgraph created it just before schema revisions (Alembic): the
-- models of revision 0001, written by SQLAlchemy's create_all. Frozen: never regenerate.
CREATE TABLE episodes (
	id VARCHAR(32) NOT NULL,
	source_id VARCHAR(512) NOT NULL,
	title TEXT NOT NULL,
	url TEXT NOT NULL,
	origin TEXT NOT NULL,
	local_path TEXT,
	captions JSON NOT NULL,
	duration FLOAT,
	published DATE,
	language VARCHAR(16),
	transcript_source VARCHAR(16),
	state VARCHAR(16) NOT NULL,
	error TEXT,
	pipeline_version VARCHAR(16) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
	updated_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id)
);

CREATE UNIQUE INDEX ix_episodes_source_id ON episodes (source_id);

CREATE INDEX ix_episodes_state ON episodes (state);

CREATE TABLE subscriptions (
	id SERIAL NOT NULL,
	source TEXT NOT NULL,
	options JSON NOT NULL,
	cron VARCHAR(128) NOT NULL,
	timezone VARCHAR(64) NOT NULL,
	state VARCHAR(16) NOT NULL,
	paused_until TIMESTAMP WITHOUT TIME ZONE,
	pause_reason TEXT,
	next_due_at TIMESTAMP WITHOUT TIME ZONE,
	discovered BOOLEAN,
	created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
	updated_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (source)
);

CREATE INDEX ix_subscriptions_next_due_at ON subscriptions (next_due_at);

CREATE TABLE voices (
	id SERIAL NOT NULL,
	name TEXT NOT NULL,
	embedding JSON NOT NULL,
	episode_id VARCHAR(32),
	label VARCHAR(64),
	guessed BOOLEAN,
	created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE chunks (
	episode_id VARCHAR(32) NOT NULL,
	ordinal INTEGER NOT NULL,
	id VARCHAR(64) NOT NULL,
	start FLOAT NOT NULL,
	"end" FLOAT NOT NULL,
	text TEXT NOT NULL,
	speakers JSON NOT NULL,
	language VARCHAR(16) NOT NULL,
	sentences JSON,
	PRIMARY KEY (episode_id, ordinal),
	FOREIGN KEY(episode_id) REFERENCES episodes (id) ON DELETE CASCADE,
	UNIQUE (id)
);

CREATE TABLE extractions (
	episode_id VARCHAR(32) NOT NULL,
	extractor VARCHAR(32) NOT NULL,
	entities JSON NOT NULL,
	relations JSON NOT NULL,
	PRIMARY KEY (episode_id),
	FOREIGN KEY(episode_id) REFERENCES episodes (id) ON DELETE CASCADE
);

CREATE TABLE runs (
	id SERIAL NOT NULL,
	subscription_id INTEGER NOT NULL,
	due_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	trigger VARCHAR(16) NOT NULL,
	state VARCHAR(16) NOT NULL,
	job_id INTEGER,
	created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
	started_at TIMESTAMP WITHOUT TIME ZONE,
	ended_at TIMESTAMP WITHOUT TIME ZONE,
	found INTEGER NOT NULL,
	ingested INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	skipped INTEGER NOT NULL,
	episodes JSON NOT NULL,
	errors JSON NOT NULL,
	note TEXT,
	PRIMARY KEY (id),
	CONSTRAINT uq_run_due UNIQUE (subscription_id, due_at),
	FOREIGN KEY(subscription_id) REFERENCES subscriptions (id) ON DELETE CASCADE
);

CREATE INDEX ix_runs_state ON runs (state);

CREATE INDEX ix_runs_subscription_id ON runs (subscription_id);

CREATE TABLE segments (
	episode_id VARCHAR(32) NOT NULL,
	ordinal INTEGER NOT NULL,
	start FLOAT NOT NULL,
	"end" FLOAT NOT NULL,
	speaker VARCHAR(64),
	text TEXT NOT NULL,
	words JSON NOT NULL,
	PRIMARY KEY (episode_id, ordinal),
	FOREIGN KEY(episode_id) REFERENCES episodes (id) ON DELETE CASCADE
);

CREATE TABLE speakers (
	episode_id VARCHAR(32) NOT NULL,
	label VARCHAR(64) NOT NULL,
	name TEXT,
	voice_id INTEGER,
	embedding JSON,
	guess_name TEXT,
	guess_confidence FLOAT,
	guess_evidence JSON,
	PRIMARY KEY (episode_id, label),
	FOREIGN KEY(episode_id) REFERENCES episodes (id) ON DELETE CASCADE,
	FOREIGN KEY(voice_id) REFERENCES voices (id) ON DELETE SET NULL
);

CREATE TABLE jobs (
	id SERIAL NOT NULL,
	kind VARCHAR(32) NOT NULL,
	request JSON NOT NULL,
	state VARCHAR(16) NOT NULL,
	cancel_requested BOOLEAN NOT NULL,
	run_id INTEGER,
	progress JSON NOT NULL,
	attempts INTEGER NOT NULL,
	owner VARCHAR(128),
	heartbeat_at TIMESTAMP WITHOUT TIME ZONE,
	error TEXT,
	created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
	started_at TIMESTAMP WITHOUT TIME ZONE,
	ended_at TIMESTAMP WITHOUT TIME ZONE,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE SET NULL
);

CREATE INDEX ix_jobs_run_id ON jobs (run_id);

CREATE INDEX ix_jobs_state ON jobs (state);
