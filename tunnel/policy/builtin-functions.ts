/**
 * Every function in PostgreSQL 18's pg_catalog that is declared IMMUTABLE or STABLE (and so, by the
 * server's own contract, cannot modify the database), minus the ones that take or return `internal`,
 * type input/output/send/receive functions, index-support and aggregate-support functions (nobody
 * writes those in a query), and minus the few that run a query of their own (`*_to_xml*` family) or
 * validate other functions (`fmgr_*_validator`). Volatile built-ins are reviewed one by one in
 * function-catalog.ts.
 *
 * Regenerate against a new server major version with (then re-apply the exclusions above):
 *
 *   SELECT proname FROM pg_proc p
 *    WHERE pronamespace = 'pg_catalog'::regnamespace
 *    GROUP BY proname
 *   HAVING bool_and(provolatile <> 'v')
 *      AND bool_or(NOT <type-io> AND NOT <internal-typed> AND NOT <amproc> AND NOT <aggregate support>)
 *    ORDER BY 1;
 *
 * (test/policy/classifier.test.ts checks that it holds none of the names function-catalog.ts lists as
 * dangerous.)
 */
const NAMES = `
  abbrev abs aclcontains acldefault aclexplode aclinsert aclitemeq aclremove acos acosd acosh age
  any_value anytextcat area array_agg array_append array_cat array_dims array_eq array_fill array_ge
  array_gt array_le array_length array_lower array_lt array_ndims array_ne array_position array_positions
  array_prepend array_remove array_replace array_reverse array_sort array_to_json array_to_string
  array_to_tsvector array_upper arraycontained arraycontains arrayoverlap ascii asin asind asinh atan
  atan2 atan2d atand atanh avg bit bit_and bit_count bit_length bit_or bit_xor bitcat biteq bitge bitgt
  bitle bitlt bitne bitnot bitshiftleft bitshiftright bool bool_and bool_or booleq boolge boolgt boolle
  boollt boolne box box_above box_above_eq box_add box_below box_below_eq box_center box_contain_pt
  box_contained box_distance box_div box_eq box_ge box_gt box_intersect box_le box_left box_lt box_mul
  box_overabove box_overbelow box_overlap box_overleft box_overright box_right box_same box_sub bpchar
  bpchar_pattern_ge bpchar_pattern_gt bpchar_pattern_le bpchar_pattern_lt bpchareq bpcharge bpchargt
  bpchariclike bpcharicnlike bpcharicregexeq bpcharicregexne bpcharle bpcharlike bpcharlt bpcharne
  bpcharnlike bpcharregexeq bpcharregexne broadcast btrim bytea byteacat byteaeq byteage byteagt byteale
  bytealike bytealt byteane byteanlike cardinality casefold cash_div_cash cash_div_flt4 cash_div_flt8
  cash_div_int2 cash_div_int4 cash_div_int8 cash_eq cash_ge cash_gt cash_le cash_lt cash_mul_flt4
  cash_mul_flt8 cash_mul_int2 cash_mul_int4 cash_mul_int8 cash_ne cash_words cbrt ceil ceiling center char
  char_length character_length chareq charge chargt charle charlt charne chr cideq cidr circle
  circle_above circle_add_pt circle_below circle_center circle_contain circle_contain_pt circle_contained
  circle_distance circle_div_pt circle_eq circle_ge circle_gt circle_le circle_left circle_lt
  circle_mul_pt circle_ne circle_overabove circle_overbelow circle_overlap circle_overleft
  circle_overright circle_right circle_same circle_sub_pt close_ls close_lseg close_pb close_pl close_ps
  close_sb col_description concat concat_ws convert convert_from convert_to corr cos cosd cosh cot cotd
  count covar_pop covar_samp crc32 crc32c cume_dist current_database current_schema current_schemas
  current_setting current_user date date_add date_bin date_eq date_eq_timestamp date_eq_timestamptz
  date_ge date_ge_timestamp date_ge_timestamptz date_gt date_gt_timestamp date_gt_timestamptz date_le
  date_le_timestamp date_le_timestamptz date_lt date_lt_timestamp date_lt_timestamptz date_mi
  date_mi_interval date_mii date_ne date_ne_timestamp date_ne_timestamptz date_part date_pl_interval
  date_pli date_subtract date_trunc datemultirange daterange daterange_canonical daterange_subdiff
  datetime_pl datetimetz_pl dcbrt decode degrees dense_rank dexp diagonal diameter dist_bp dist_bs
  dist_cpoint dist_cpoly dist_lp dist_ls dist_pathp dist_pb dist_pc dist_pl dist_polyc dist_polyp
  dist_ppath dist_ppoly dist_ps dist_sb dist_sl dist_sp div dlog1 dlog10 dpow dround dsqrt dtrunc
  elem_contained_by_multirange elem_contained_by_range encode enum_eq enum_first enum_ge enum_gt enum_in
  enum_last enum_le enum_lt enum_ne enum_out enum_range enum_send erf erfc every exp extract factorial
  family first_value float4 float48div float48eq float48ge float48gt float48le float48lt float48mi
  float48mul float48ne float48pl float4abs float4div float4eq float4ge float4gt float4le float4lt float4mi
  float4mul float4ne float4um float4up float8 float84div float84eq float84ge float84gt float84le float84lt
  float84mi float84mul float84ne float84pl float8abs float8div float8eq float8ge float8gt float8le
  float8lt float8mi float8mul float8ne float8um float8up floor flt4_mul_cash flt8_mul_cash format
  format_type gamma gcd generate_series generate_subscripts get_bit get_byte get_current_ts_config
  getdatabaseencoding getpgusername has_any_column_privilege has_column_privilege has_database_privilege
  has_foreign_data_wrapper_privilege has_function_privilege has_language_privilege
  has_largeobject_privilege has_parameter_privilege has_schema_privilege has_sequence_privilege
  has_server_privilege has_table_privilege has_tablespace_privilege has_type_privilege height host
  hostmask icu_unicode_version inet_client_addr inet_client_port inet_server_addr inet_server_port inetand
  inetmi inetmi_int8 inetnot inetor inetpl initcap int2 int24div int24eq int24ge int24gt int24le int24lt
  int24mi int24mul int24ne int24pl int28div int28eq int28ge int28gt int28le int28lt int28mi int28mul
  int28ne int28pl int2_mul_cash int2abs int2div int2eq int2ge int2gt int2le int2lt int2mi int2mod int2mul
  int2ne int2not int2pl int2shl int2shr int2um int2up int4 int42div int42eq int42ge int42gt int42le
  int42lt int42mi int42mul int42ne int42pl int48div int48eq int48ge int48gt int48le int48lt int48mi
  int48mul int48ne int48pl int4_mul_cash int4abs int4div int4eq int4ge int4gt int4inc int4le int4lt int4mi
  int4mod int4mul int4multirange int4ne int4not int4pl int4range int4range_canonical int4range_subdiff
  int4shl int4shr int4um int4up int8 int82div int82eq int82ge int82gt int82le int82lt int82mi int82mul
  int82ne int82pl int84div int84eq int84ge int84gt int84le int84lt int84mi int84mul int84ne int84pl
  int8_mul_cash int8_sum int8abs int8div int8eq int8ge int8gt int8le int8lt int8mi int8mod int8mul
  int8multirange int8ne int8not int8pl_inet int8range int8range_canonical int8range_subdiff int8shl
  int8shr int8um int8up integer_pl_date inter_lb inter_sb inter_sl interval interval_div interval_eq
  interval_ge interval_gt interval_le interval_lt interval_mi interval_mul interval_ne interval_pl
  interval_pl_date interval_pl_time interval_pl_timestamp interval_pl_timestamptz interval_pl_timetz
  interval_um is_normalized isclosed isempty isfinite ishorizontal isopen isparallel isperp isvertical
  json_agg json_agg_strict json_array_element json_array_element_text json_array_elements
  json_array_elements_text json_array_length json_build_array json_build_object json_each json_each_text
  json_extract_path json_extract_path_text json_object json_object_agg json_object_agg_strict
  json_object_agg_unique json_object_agg_unique_strict json_object_field json_object_field_text
  json_object_keys json_populate_record json_populate_recordset json_strip_nulls json_to_record
  json_to_recordset json_to_tsvector json_typeof jsonb_agg jsonb_agg_strict jsonb_array_element
  jsonb_array_element_text jsonb_array_elements jsonb_array_elements_text jsonb_array_length
  jsonb_build_array jsonb_build_object jsonb_concat jsonb_contained jsonb_contains jsonb_delete
  jsonb_delete_path jsonb_each jsonb_each_text jsonb_eq jsonb_exists jsonb_exists_all jsonb_exists_any
  jsonb_extract_path jsonb_extract_path_text jsonb_ge jsonb_gt jsonb_insert jsonb_le jsonb_lt jsonb_ne
  jsonb_object jsonb_object_agg jsonb_object_agg_strict jsonb_object_agg_unique
  jsonb_object_agg_unique_strict jsonb_object_field jsonb_object_field_text jsonb_object_keys
  jsonb_path_exists jsonb_path_exists_opr jsonb_path_exists_tz jsonb_path_match jsonb_path_match_opr
  jsonb_path_match_tz jsonb_path_query jsonb_path_query_array jsonb_path_query_array_tz
  jsonb_path_query_first jsonb_path_query_first_tz jsonb_path_query_tz jsonb_populate_record
  jsonb_populate_record_valid jsonb_populate_recordset jsonb_pretty jsonb_set jsonb_set_lax
  jsonb_strip_nulls jsonb_to_record jsonb_to_recordset jsonb_to_tsvector jsonb_typeof justify_days
  justify_hours justify_interval lag last_value lcm lead left length lgamma like like_escape line
  line_distance line_eq line_horizontal line_interpt line_intersect line_parallel line_perp line_vertical
  ln log log10 lower lower_inc lower_inf lpad lseg lseg_center lseg_distance lseg_eq lseg_ge lseg_gt
  lseg_horizontal lseg_interpt lseg_intersect lseg_le lseg_length lseg_lt lseg_ne lseg_parallel lseg_perp
  lseg_vertical ltrim macaddr macaddr8 macaddr8_and macaddr8_eq macaddr8_ge macaddr8_gt macaddr8_le
  macaddr8_lt macaddr8_ne macaddr8_not macaddr8_or macaddr8_set7bit macaddr_and macaddr_eq macaddr_ge
  macaddr_gt macaddr_le macaddr_lt macaddr_ne macaddr_not macaddr_or make_date make_interval make_time
  make_timestamp make_timestamptz makeaclitem masklen max md5 min min_scale mod mode money mul_d_interval
  multirange multirange_adjacent_multirange multirange_adjacent_range multirange_after_multirange
  multirange_after_range multirange_before_multirange multirange_before_range
  multirange_contained_by_multirange multirange_contained_by_range multirange_contains_elem
  multirange_contains_multirange multirange_contains_range multirange_eq multirange_ge multirange_gt
  multirange_intersect multirange_le multirange_lt multirange_minus multirange_ne
  multirange_overlaps_multirange multirange_overlaps_range multirange_overleft_multirange
  multirange_overleft_range multirange_overright_multirange multirange_overright_range multirange_union
  mxid_age name nameconcatoid nameeq nameeqtext namege namegetext namegt namegttext nameiclike nameicnlike
  nameicregexeq nameicregexne namele nameletext namelike namelt namelttext namene namenetext namenlike
  nameregexeq nameregexne netmask network network_eq network_ge network_gt network_le network_lt
  network_ne network_overlap network_sub network_subeq network_sup normalize notlike now npoints nth_value
  ntile num_nonnulls num_nulls numeric numeric_abs numeric_add numeric_div numeric_div_trunc numeric_eq
  numeric_exp numeric_ge numeric_gt numeric_inc numeric_le numeric_ln numeric_log numeric_lt numeric_mod
  numeric_mul numeric_ne numeric_pl_pg_lsn numeric_power numeric_sqrt numeric_sub numeric_uminus
  numeric_uplus nummultirange numnode numrange numrange_subdiff obj_description octet_length oid oideq
  oidge oidgt oidle oidlt oidne oidvectoreq oidvectorge oidvectorgt oidvectorle oidvectorlt oidvectorne
  oidvectortypes on_pb on_pl on_ppath on_ps on_sb on_sl overlaps overlay parse_ident path path_add
  path_add_pt path_contain_pt path_distance path_div_pt path_inter path_length path_mul_pt path_n_eq
  path_n_ge path_n_gt path_n_le path_n_lt path_npoints path_sub_pt pclose percent_rank percentile_cont
  percentile_disc pg_available_extension_versions pg_available_extensions pg_backend_pid pg_basetype
  pg_char_to_encoding pg_client_encoding pg_collation_for pg_collation_is_visible pg_column_compression
  pg_column_is_updatable pg_column_size pg_column_toast_chunk_id pg_conf_load_time pg_config
  pg_conversion_is_visible pg_current_snapshot pg_current_xact_id pg_current_xact_id_if_assigned pg_cursor
  pg_describe_object pg_encoding_max_length pg_encoding_to_char pg_event_trigger_ddl_commands
  pg_event_trigger_dropped_objects pg_event_trigger_table_rewrite_oid
  pg_event_trigger_table_rewrite_reason pg_extension_update_paths pg_filenode_relation
  pg_function_is_visible pg_get_acl pg_get_catalog_foreign_keys pg_get_constraintdef pg_get_expr
  pg_get_function_arg_default pg_get_function_arguments pg_get_function_identity_arguments
  pg_get_function_result pg_get_function_sqlbody pg_get_functiondef pg_get_indexdef pg_get_keywords
  pg_get_object_address pg_get_partition_constraintdef pg_get_partkeydef pg_get_publication_tables
  pg_get_replica_identity_index pg_get_replication_slots pg_get_ruledef pg_get_serial_sequence
  pg_get_statisticsobjdef pg_get_statisticsobjdef_columns pg_get_statisticsobjdef_expressions
  pg_get_triggerdef pg_get_userbyid pg_get_viewdef pg_has_role pg_identify_object
  pg_identify_object_as_address pg_index_column_has_property pg_index_has_property pg_indexam_has_property
  pg_indexam_progress_phasename pg_input_error_info pg_input_is_valid pg_is_other_temp_schema
  pg_listening_channels pg_lsn pg_lsn_eq pg_lsn_ge pg_lsn_gt pg_lsn_le pg_lsn_lt pg_lsn_mi pg_lsn_mii
  pg_lsn_ne pg_lsn_pli pg_mcv_list_items pg_my_temp_schema pg_numa_available pg_opclass_is_visible
  pg_operator_is_visible pg_opfamily_is_visible pg_options_to_table pg_partition_root
  pg_postmaster_start_time pg_prepared_statement pg_relation_filenode pg_relation_filepath
  pg_relation_is_publishable pg_relation_is_updatable pg_replication_origin_oid pg_sequence_parameters
  pg_settings_get_flags pg_show_all_settings pg_size_bytes pg_size_pretty pg_snapshot_xip pg_snapshot_xmax
  pg_snapshot_xmin pg_split_walfile_name pg_stat_get_activity pg_stat_get_analyze_count
  pg_stat_get_archiver pg_stat_get_autoanalyze_count pg_stat_get_autovacuum_count
  pg_stat_get_backend_activity pg_stat_get_backend_activity_start pg_stat_get_backend_client_addr
  pg_stat_get_backend_client_port pg_stat_get_backend_dbid pg_stat_get_backend_idset
  pg_stat_get_backend_pid pg_stat_get_backend_start pg_stat_get_backend_subxact pg_stat_get_backend_userid
  pg_stat_get_backend_wait_event pg_stat_get_backend_wait_event_type pg_stat_get_backend_xact_start
  pg_stat_get_bgwriter_buf_written_clean pg_stat_get_bgwriter_maxwritten_clean
  pg_stat_get_bgwriter_stat_reset_time pg_stat_get_blocks_fetched pg_stat_get_blocks_hit
  pg_stat_get_buf_alloc pg_stat_get_checkpointer_buffers_written pg_stat_get_checkpointer_num_performed
  pg_stat_get_checkpointer_num_requested pg_stat_get_checkpointer_num_timed
  pg_stat_get_checkpointer_restartpoints_performed pg_stat_get_checkpointer_restartpoints_requested
  pg_stat_get_checkpointer_restartpoints_timed pg_stat_get_checkpointer_slru_written
  pg_stat_get_checkpointer_stat_reset_time pg_stat_get_checkpointer_sync_time
  pg_stat_get_checkpointer_write_time pg_stat_get_db_active_time pg_stat_get_db_blk_read_time
  pg_stat_get_db_blk_write_time pg_stat_get_db_blocks_fetched pg_stat_get_db_blocks_hit
  pg_stat_get_db_checksum_failures pg_stat_get_db_checksum_last_failure pg_stat_get_db_conflict_all
  pg_stat_get_db_conflict_bufferpin pg_stat_get_db_conflict_lock pg_stat_get_db_conflict_logicalslot
  pg_stat_get_db_conflict_snapshot pg_stat_get_db_conflict_startup_deadlock
  pg_stat_get_db_conflict_tablespace pg_stat_get_db_deadlocks pg_stat_get_db_idle_in_transaction_time
  pg_stat_get_db_numbackends pg_stat_get_db_parallel_workers_launched
  pg_stat_get_db_parallel_workers_to_launch pg_stat_get_db_session_time pg_stat_get_db_sessions
  pg_stat_get_db_sessions_abandoned pg_stat_get_db_sessions_fatal pg_stat_get_db_sessions_killed
  pg_stat_get_db_stat_reset_time pg_stat_get_db_temp_bytes pg_stat_get_db_temp_files
  pg_stat_get_db_tuples_deleted pg_stat_get_db_tuples_fetched pg_stat_get_db_tuples_inserted
  pg_stat_get_db_tuples_returned pg_stat_get_db_tuples_updated pg_stat_get_db_xact_commit
  pg_stat_get_db_xact_rollback pg_stat_get_dead_tuples pg_stat_get_function_calls
  pg_stat_get_function_self_time pg_stat_get_function_total_time pg_stat_get_ins_since_vacuum
  pg_stat_get_last_analyze_time pg_stat_get_last_autoanalyze_time pg_stat_get_last_autovacuum_time
  pg_stat_get_last_vacuum_time pg_stat_get_lastscan pg_stat_get_live_tuples pg_stat_get_mod_since_analyze
  pg_stat_get_numscans pg_stat_get_progress_info pg_stat_get_replication_slot pg_stat_get_slru
  pg_stat_get_snapshot_timestamp pg_stat_get_subscription pg_stat_get_subscription_stats
  pg_stat_get_total_analyze_time pg_stat_get_total_autoanalyze_time pg_stat_get_total_autovacuum_time
  pg_stat_get_total_vacuum_time pg_stat_get_tuples_deleted pg_stat_get_tuples_fetched
  pg_stat_get_tuples_hot_updated pg_stat_get_tuples_inserted pg_stat_get_tuples_newpage_updated
  pg_stat_get_tuples_returned pg_stat_get_tuples_updated pg_stat_get_vacuum_count pg_stat_get_wal
  pg_stat_get_wal_receiver pg_stat_get_wal_senders pg_statistics_obj_is_visible pg_table_is_visible
  pg_tablespace_databases pg_tablespace_location pg_timezone_abbrevs_abbrevs pg_timezone_abbrevs_zone
  pg_timezone_names pg_trigger_depth pg_ts_config_is_visible pg_ts_dict_is_visible pg_ts_parser_is_visible
  pg_ts_template_is_visible pg_type_is_visible pg_typeof pg_visible_in_snapshot pg_wal_lsn_diff
  pg_walfile_name pg_walfile_name_offset phraseto_tsquery pi plainto_tsquery point point_above point_add
  point_below point_distance point_div point_eq point_horiz point_left point_mul point_ne point_right
  point_sub point_vert poly_above poly_below poly_center poly_contain poly_contain_pt poly_contained
  poly_distance poly_left poly_npoints poly_overabove poly_overbelow poly_overlap poly_overleft
  poly_overright poly_right poly_same polygon popen position pow power pt_contained_circle
  pt_contained_poly querytree quote_ident quote_literal quote_nullable radians radius range_adjacent
  range_adjacent_multirange range_after range_after_multirange range_agg range_before
  range_before_multirange range_contained_by range_contained_by_multirange range_contains_elem
  range_contains_multirange range_eq range_ge range_gt range_intersect range_intersect_agg range_le
  range_lt range_merge range_minus range_ne range_overlaps range_overlaps_multirange range_overleft
  range_overleft_multirange range_overright range_overright_multirange range_union rank record_eq
  record_ge record_gt record_image_eq record_image_ge record_image_gt record_image_le record_image_lt
  record_image_ne record_le record_lt record_ne regclass regexp_count regexp_instr regexp_like
  regexp_match regexp_matches regexp_replace regexp_split_to_array regexp_split_to_table regexp_substr
  regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy repeat
  replace reverse right round row_number row_security_active row_to_json rpad rtrim
  satisfies_hash_partition scale session_user set_bit set_byte set_masklen setweight sha224 sha256 sha384
  sha512 shell_in shell_out shobj_description sign similar_escape similar_to_escape sin sind sinh slope
  split_part sqrt starts_with statement_timestamp stddev stddev_pop stddev_samp string_agg string_to_array
  string_to_table strip strpos substr substring sum system_user tan tand tanh text text_ge text_gt text_le
  text_lt text_pattern_ge text_pattern_gt text_pattern_le text_pattern_lt textanycat textcat texteq
  texteqname textgename textgtname texticlike texticnlike texticregexeq texticregexne textlen textlename
  textlike textltname textne textnename textnlike textregexeq textregexne tideq tidge tidgt tidle tidlt
  tidne time time_eq time_ge time_gt time_le time_lt time_mi_interval time_mi_time time_ne
  time_pl_interval timedate_pl timestamp timestamp_eq timestamp_eq_date timestamp_eq_timestamptz
  timestamp_ge timestamp_ge_date timestamp_ge_timestamptz timestamp_gt timestamp_gt_date
  timestamp_gt_timestamptz timestamp_le timestamp_le_date timestamp_le_timestamptz timestamp_lt
  timestamp_lt_date timestamp_lt_timestamptz timestamp_mi timestamp_mi_interval timestamp_ne
  timestamp_ne_date timestamp_ne_timestamptz timestamp_pl_interval timestamptz timestamptz_eq
  timestamptz_eq_date timestamptz_eq_timestamp timestamptz_ge timestamptz_ge_date timestamptz_ge_timestamp
  timestamptz_gt timestamptz_gt_date timestamptz_gt_timestamp timestamptz_le timestamptz_le_date
  timestamptz_le_timestamp timestamptz_lt timestamptz_lt_date timestamptz_lt_timestamp timestamptz_mi
  timestamptz_mi_interval timestamptz_ne timestamptz_ne_date timestamptz_ne_timestamp
  timestamptz_pl_interval timetz timetz_eq timetz_ge timetz_gt timetz_le timetz_lt timetz_mi_interval
  timetz_ne timetz_pl_interval timetzdate_pl timezone to_ascii to_bin to_char to_date to_hex to_json
  to_jsonb to_number to_oct to_regclass to_regcollation to_regnamespace to_regoper to_regoperator
  to_regproc to_regprocedure to_regrole to_regtype to_regtypemod to_timestamp to_tsquery to_tsvector
  transaction_timestamp translate trim_array trim_scale trunc ts_debug ts_delete ts_filter ts_headline
  ts_lexize ts_match_qv ts_match_tq ts_match_tt ts_match_vq ts_parse ts_rank ts_rank_cd ts_token_type
  tsmultirange tsq_mcontained tsq_mcontains tsquery_and tsquery_eq tsquery_ge tsquery_gt tsquery_le
  tsquery_lt tsquery_ne tsquery_not tsquery_or tsquery_phrase tsrange tsrange_subdiff tstzmultirange
  tstzrange tstzrange_subdiff tsvector_concat tsvector_eq tsvector_ge tsvector_gt tsvector_le tsvector_lt
  tsvector_ne tsvector_to_array txid_current txid_current_if_assigned txid_current_snapshot
  txid_snapshot_xip txid_snapshot_xmax txid_snapshot_xmin txid_visible_in_snapshot unicode_assigned
  unicode_version unistr unnest upper upper_inc upper_inf uuid_eq uuid_extract_timestamp
  uuid_extract_version uuid_ge uuid_gt uuid_le uuid_lt uuid_ne var_pop var_samp varbit varbiteq varbitge
  varbitgt varbitle varbitlt varbitne varchar variance version websearch_to_tsquery width width_bucket xid
  xid8eq xid8ge xid8gt xid8le xid8lt xid8ne xideq xideqint4 xidneq xidneqint4 xml xml_is_well_formed
  xml_is_well_formed_content xml_is_well_formed_document xmlagg xmlcomment xmlexists xmltext xmlvalidate
  xpath xpath_exists
`;

export const STABLE_BUILTIN_FUNCTIONS: ReadonlySet<string> = new Set(NAMES.split(/\s+/).filter(Boolean));
