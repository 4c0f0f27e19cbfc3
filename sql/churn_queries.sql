-- Sample queries over the churn feature table (sql/churn_features.sql); tests run each one.
-- Statements are separated by blank lines; :version is a feature_version (a run id).

-- The feature versions, newest first, with their row counts.
SELECT feature_version, MIN(computed_at) AS computed_at, COUNT(*) AS customers
FROM churn_features GROUP BY feature_version ORDER BY MIN(computed_at) DESC;

-- One customer's features in a version.
SELECT "customerID", tenure_bucket, services_count, total_spend, average_monthly_spend, month_to_month
FROM churn_features WHERE feature_version = :version AND "customerID" = '7590-VHVEG';

-- Churn rate by tenure band and contract type, in a version.
SELECT tenure_bucket, month_to_month, COUNT(*) AS customers, AVG("Churn") AS churn_rate
FROM churn_features WHERE feature_version = :version
GROUP BY tenure_bucket, month_to_month ORDER BY churn_rate DESC;

-- What each feature means, as that version recorded it.
SELECT feature, type, kind, derived_from, rule, description
FROM churn_features_metadata WHERE feature_version = :version ORDER BY feature;
