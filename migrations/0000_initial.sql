CREATE TABLE "actions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"plan_id" uuid NOT NULL,
	"step" integer NOT NULL,
	"phase" text NOT NULL,
	"target_kind" text NOT NULL,
	"target" text NOT NULL,
	"command" text NOT NULL,
	"payload" jsonb NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"epoch" bigint NOT NULL,
	"job_id" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "actions_job_id_unique" UNIQUE("job_id"),
	CONSTRAINT "actions_phase_check" CHECK ("actions"."phase" in ('shed', 'confirm', 'add')),
	CONSTRAINT "actions_target_kind_check" CHECK ("actions"."target_kind" in ('fleet', 'pool', 'order', 'dispatch')),
	CONSTRAINT "actions_state_check" CHECK ("actions"."state" in ('pending', 'dispatched', 'succeeded', 'failed', 'dropped')),
	CONSTRAINT "actions_attempts_check" CHECK ("actions"."attempts" >= 0),
	CONSTRAINT "actions_step_check" CHECK ("actions"."step" >= 0)
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"prefix" text NOT NULL,
	"secret_hash" text NOT NULL,
	"role" text NOT NULL,
	"broker_id" uuid,
	"label" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	CONSTRAINT "api_keys_prefix_unique" UNIQUE("prefix"),
	CONSTRAINT "api_keys_role_check" CHECK ("api_keys"."role" in ('operator', 'viewer', 'compute-broker', 'energy-broker')),
	CONSTRAINT "api_keys_broker_role_check" CHECK (("api_keys"."role" in ('compute-broker', 'energy-broker')) = ("api_keys"."broker_id" is not null))
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"role" text NOT NULL,
	"action" text NOT NULL,
	"target" text,
	"detail" jsonb,
	"request_id" text
);
--> statement-breakpoint
CREATE TABLE "brokers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"disabled_at" timestamp with time zone,
	CONSTRAINT "brokers_name_unique" UNIQUE("name"),
	CONSTRAINT "brokers_kind_check" CHECK ("brokers"."kind" in ('compute', 'energy'))
);
--> statement-breakpoint
CREATE TABLE "fleet_observations" (
	"observed_at" timestamp with time zone NOT NULL,
	"site" text NOT NULL,
	"fleet" text NOT NULL,
	"miners_by_state" jsonb NOT NULL,
	"hashrate_ths" double precision NOT NULL,
	"power_kw" double precision NOT NULL,
	"power_source" text NOT NULL,
	"max_chip_temp_c" double precision,
	"degraded" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "fleet_observations_pk" PRIMARY KEY("fleet","observed_at"),
	CONSTRAINT "fleet_observations_hashrate_check" CHECK ("fleet_observations"."hashrate_ths" >= 0),
	CONSTRAINT "fleet_observations_power_check" CHECK ("fleet_observations"."power_kw" >= 0),
	CONSTRAINT "fleet_observations_degraded_check" CHECK ("fleet_observations"."degraded" >= 0)
);
--> statement-breakpoint
CREATE TABLE "grid_dispatches" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"broker_id" uuid,
	"site" text NOT NULL,
	"kind" text NOT NULL,
	"kw" double precision NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"duration_seconds" integer NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"acknowledged_at" timestamp with time zone,
	"state" text NOT NULL,
	"expected_kw" double precision,
	"performance" jsonb,
	CONSTRAINT "grid_dispatches_kind_check" CHECK ("grid_dispatches"."kind" in ('cap', 'curtail-by')),
	CONSTRAINT "grid_dispatches_kw_check" CHECK ("grid_dispatches"."kw" >= 0),
	CONSTRAINT "grid_dispatches_duration_check" CHECK ("grid_dispatches"."duration_seconds" > 0)
);
--> statement-breakpoint
CREATE TABLE "inventory_resources" (
	"snapshot_id" bigint NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"api_version" text NOT NULL,
	"document" jsonb NOT NULL,
	CONSTRAINT "inventory_resources_pk" PRIMARY KEY("snapshot_id","kind","name"),
	CONSTRAINT "inventory_resources_kind_check" CHECK ("inventory_resources"."kind" in ('Site', 'AllocationPolicy', 'MinerFleet', 'GpuPool'))
);
--> statement-breakpoint
CREATE TABLE "inventory_snapshots" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "inventory_snapshots_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"taken_at" timestamp with time zone DEFAULT now() NOT NULL,
	"source" text NOT NULL,
	"content_hash" text NOT NULL,
	"resource_count" integer NOT NULL,
	CONSTRAINT "inventory_snapshots_resource_count_check" CHECK ("inventory_snapshots"."resource_count" >= 0),
	CONSTRAINT "inventory_snapshots_content_hash_check" CHECK ("inventory_snapshots"."content_hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "order_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "order_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"order_id" uuid NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"from_state" text,
	"to_state" text NOT NULL,
	"reason" text NOT NULL,
	CONSTRAINT "order_events_from_state_check" CHECK ("order_events"."from_state" is null or "order_events"."from_state" in ('pending', 'admitted', 'running', 'preempting', 'completed', 'preempted', 'cancelled', 'failed')),
	CONSTRAINT "order_events_to_state_check" CHECK ("order_events"."to_state" in ('pending', 'admitted', 'running', 'preempting', 'completed', 'preempted', 'cancelled', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"broker_id" uuid NOT NULL,
	"idempotency_key" text,
	"state" text DEFAULT 'pending' NOT NULL,
	"tier" text NOT NULL,
	"gpu_models" text[] NOT NULL,
	"gpu_count" integer NOT NULL,
	"min_vram_gib" integer DEFAULT 0 NOT NULL,
	"max_usd_per_gpu_hour" numeric(12, 4) NOT NULL,
	"price_usd_per_gpu_hour" numeric(12, 4),
	"duration_seconds" integer,
	"end_by" timestamp with time zone,
	"notice_seconds" integer DEFAULT 0 NOT NULL,
	"image" text NOT NULL,
	"args" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"pool" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	CONSTRAINT "orders_broker_idempotency_key_unique" UNIQUE("broker_id","idempotency_key"),
	CONSTRAINT "orders_state_check" CHECK ("orders"."state" in ('pending', 'admitted', 'running', 'preempting', 'completed', 'preempted', 'cancelled', 'failed')),
	CONSTRAINT "orders_tier_check" CHECK ("orders"."tier" in ('reserved', 'on-demand', 'interruptible')),
	CONSTRAINT "orders_gpu_count_check" CHECK ("orders"."gpu_count" > 0),
	CONSTRAINT "orders_min_vram_check" CHECK ("orders"."min_vram_gib" >= 0),
	CONSTRAINT "orders_max_price_check" CHECK ("orders"."max_usd_per_gpu_hour" >= 0),
	CONSTRAINT "orders_price_check" CHECK ("orders"."price_usd_per_gpu_hour" is null or "orders"."price_usd_per_gpu_hour" >= 0),
	CONSTRAINT "orders_duration_check" CHECK ("orders"."duration_seconds" is null or "orders"."duration_seconds" > 0),
	CONSTRAINT "orders_notice_check" CHECK ("orders"."notice_seconds" >= 0),
	CONSTRAINT "orders_gpu_models_check" CHECK (cardinality("orders"."gpu_models") > 0)
);
--> statement-breakpoint
CREATE TABLE "plan_changes" (
	"plan_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"target_kind" text NOT NULL,
	"target" text NOT NULL,
	"change" jsonb NOT NULL,
	"reason" text NOT NULL,
	CONSTRAINT "plan_changes_pk" PRIMARY KEY("plan_id","seq"),
	CONSTRAINT "plan_changes_target_kind_check" CHECK ("plan_changes"."target_kind" in ('fleet', 'pool', 'order', 'dispatch')),
	CONSTRAINT "plan_changes_seq_check" CHECK ("plan_changes"."seq" >= 0)
);
--> statement-breakpoint
CREATE TABLE "plans" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"site" text NOT NULL,
	"epoch" bigint NOT NULL,
	"solver" text NOT NULL,
	"status" text NOT NULL,
	"interval_start" timestamp with time zone NOT NULL,
	"expected_usd_per_hour" jsonb NOT NULL,
	"summary" jsonb NOT NULL,
	"inputs" jsonb NOT NULL,
	CONSTRAINT "plans_solver_check" CHECK ("plans"."solver" in ('milp', 'greedy')),
	CONSTRAINT "plans_epoch_check" CHECK ("plans"."epoch" >= 0)
);
--> statement-breakpoint
CREATE TABLE "signal_readings" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "signal_readings_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"observed_at" timestamp with time zone NOT NULL,
	"fetched_at" timestamp with time zone DEFAULT now() NOT NULL,
	"source" text NOT NULL,
	"signal" text NOT NULL,
	"value" double precision NOT NULL,
	"unit" text NOT NULL,
	"stale" boolean DEFAULT false NOT NULL,
	"detail" jsonb,
	CONSTRAINT "signal_readings_signal_check" CHECK ("signal_readings"."signal" <> '')
);
--> statement-breakpoint
ALTER TABLE "actions" ADD CONSTRAINT "actions_plan_id_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_broker_id_brokers_id_fk" FOREIGN KEY ("broker_id") REFERENCES "public"."brokers"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grid_dispatches" ADD CONSTRAINT "grid_dispatches_broker_id_brokers_id_fk" FOREIGN KEY ("broker_id") REFERENCES "public"."brokers"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_resources" ADD CONSTRAINT "inventory_resources_snapshot_id_inventory_snapshots_id_fk" FOREIGN KEY ("snapshot_id") REFERENCES "public"."inventory_snapshots"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_events" ADD CONSTRAINT "order_events_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_broker_id_brokers_id_fk" FOREIGN KEY ("broker_id") REFERENCES "public"."brokers"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "plan_changes" ADD CONSTRAINT "plan_changes_plan_id_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "actions_plan_id_step_idx" ON "actions" USING btree ("plan_id","step");--> statement-breakpoint
CREATE INDEX "actions_open_idx" ON "actions" USING btree ("state","created_at") WHERE "actions"."state" in ('pending', 'dispatched');--> statement-breakpoint
CREATE INDEX "actions_target_idx" ON "actions" USING btree ("target_kind","target","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "api_keys_broker_id_idx" ON "api_keys" USING btree ("broker_id");--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "audit_log_actor_at_idx" ON "audit_log" USING btree ("actor","at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "audit_log_target_at_idx" ON "audit_log" USING btree ("target","at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "fleet_observations_site_observed_at_idx" ON "fleet_observations" USING btree ("site","observed_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "grid_dispatches_site_starts_at_idx" ON "grid_dispatches" USING btree ("site","starts_at");--> statement-breakpoint
CREATE INDEX "grid_dispatches_broker_id_idx" ON "grid_dispatches" USING btree ("broker_id");--> statement-breakpoint
CREATE INDEX "inventory_snapshots_content_hash_idx" ON "inventory_snapshots" USING btree ("content_hash");--> statement-breakpoint
CREATE INDEX "inventory_snapshots_taken_at_idx" ON "inventory_snapshots" USING btree ("taken_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "order_events_order_id_idx" ON "order_events" USING btree ("order_id","id");--> statement-breakpoint
CREATE INDEX "orders_state_created_at_idx" ON "orders" USING btree ("state","created_at");--> statement-breakpoint
CREATE INDEX "orders_broker_created_at_idx" ON "orders" USING btree ("broker_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "orders_pool_idx" ON "orders" USING btree ("pool") WHERE "orders"."pool" is not null;--> statement-breakpoint
CREATE INDEX "plans_site_created_at_idx" ON "plans" USING btree ("site","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "plans_site_interval_start_idx" ON "plans" USING btree ("site","interval_start" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "signal_readings_signal_observed_at_idx" ON "signal_readings" USING btree ("signal","observed_at" DESC NULLS LAST);