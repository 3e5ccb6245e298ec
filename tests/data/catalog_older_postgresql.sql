-- An older catalog (before subscriptions, jobs, speaker-name guesses, guessed voices and
-- chunk sentences): earlier castgraph versions added those as tables and nullable columns.
-- Frozen: never regenerate.
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
	state VARCHAR(16) NOT NULL,
	error TEXT,
	pipeline_version VARCHAR(16) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
	updated_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id)
);

CREATE UNIQUE INDEX ix_episodes_source_id ON episodes (source_id);

CREATE INDEX ix_episodes_state ON episodes (state);

CREATE TABLE voices (
	id SERIAL NOT NULL,
	name TEXT NOT NULL,
	embedding JSON NOT NULL,
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
	PRIMARY KEY (episode_id, label),
	FOREIGN KEY(episode_id) REFERENCES episodes (id) ON DELETE CASCADE,
	FOREIGN KEY(voice_id) REFERENCES voices (id) ON DELETE SET NULL
);
